// Runs in every test file (vitest.config.ts setupFiles): the directories makeTempDir made go when the file ends.
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/temp.js';

afterAll(removeTempDirs);
