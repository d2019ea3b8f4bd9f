// glob.quote_meta: gobwas/glob's QuoteMeta (escapes * ? \ [ ] { }).
import { stringArg, type BuiltinTable } from './builtin.js';

export const globBuiltins: BuiltinTable = {
  'glob.quote_meta': (_evaluation, pattern) => stringArg(pattern, 1).replace(/[*?\\[\]{}]/g, '\\$&'),
};
