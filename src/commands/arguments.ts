// The one argument splitter of the subcommands: a command's own flags and its operands, apart from the serve
// settings it passes on to parseServeConfig (which knows those flags and reports the unknown ones).
import { SERVE_OPTIONS } from '../config.js';

export interface SplitArguments {
  /** The command's own flags and switches by name (without `--`); an own flag given without a value holds ''. */
  own: Map<string, string>;
  /** Arguments that are neither flags nor the values of flags. */
  operands: string[];
  /** Everything else, in order, for parseServeConfig. */
  settings: string[];
}

// Settings that stand alone; every other setting takes a value, inline (`--x=v`) or as the next argument.
const BOOLEAN_SETTINGS = new Set(Object.values(SERVE_OPTIONS).filter((spec) => spec.kind === 'boolean').map((spec) => `--${spec.flag}`));

/** `ownFlags` take a value; `ownSwitches` stand alone (`--x`, or `--x=false`), held as 'true' or the value given. */
export function splitArguments(argv: readonly string[], ownFlags: readonly string[], ownSwitches: readonly string[] = []): SplitArguments {
  const own = new Map<string, string>();
  const operands: string[] = [];
  const settings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      operands.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    const name = flag.replace(/^--?/, '');
    if (ownFlags.includes(name)) {
      own.set(name, equals === -1 ? (argv[++i] ?? '') : arg.slice(equals + 1));
      continue;
    }
    if (ownSwitches.includes(name)) {
      own.set(name, equals === -1 ? 'true' : arg.slice(equals + 1));
      continue;
    }
    settings.push(arg);
    if (equals === -1 && !BOOLEAN_SETTINGS.has(flag) && i + 1 < argv.length) settings.push(argv[++i]!);
  }
  return { own, operands, settings };
}
