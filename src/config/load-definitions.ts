import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DefinitionsError, type DefinitionProblem } from '../errors';
import type { Definitions } from './types';
import { DEFINITION_EXTENSIONS, parseDefinitionsFile } from './parse-definitions-file';
import { resolveDefinitions, type DefinitionsDocument, type DefinitionsOptions } from './resolve-definitions';

const EXTENSIONS_TEXT = '.yaml, .yml or .json';

function isDefinitionsFile(name: string): boolean {
  return DEFINITION_EXTENSIONS.includes(extname(name).toLowerCase());
}

function fileSystemProblem(file: string, error: unknown): DefinitionProblem {
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    return { file, path: '', message: 'no such file or folder (expected a definitions file or a folder of them)' };
  }
  return { file, path: '', message: `cannot be read: ${error instanceof Error ? error.message : String(error)}` };
}

/** The files at `location`: the file itself, or the folder's definitions files sorted by name. */
async function definitionsFiles(location: string): Promise<string[]> {
  const found = await stat(location).catch((error: unknown) => {
    throw new DefinitionsError([fileSystemProblem(location, error)]);
  });
  if (!found.isDirectory()) {
    if (isDefinitionsFile(location)) return [location];
    throw new DefinitionsError([
      { file: location, path: '', message: `not a ${EXTENSIONS_TEXT} file (expected a definitions file or a folder of them)` },
    ]);
  }
  const entries = await readdir(location, { withFileTypes: true });
  const names = entries.filter((entry) => !entry.isDirectory() && isDefinitionsFile(entry.name)).map((entry) => entry.name);
  if (names.length === 0) {
    throw new DefinitionsError([{ file: location, path: '', message: `no ${EXTENSIONS_TEXT} file in this folder (expected at least one)` }]);
  }
  return names.sort().map((name) => join(location, name));
}

type ReadOutcome = { readonly document: DefinitionsDocument } | { readonly problem: DefinitionProblem };

async function readDefinitionsFile(file: string): Promise<ReadOutcome> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { problem: fileSystemProblem(file, error) };
  }
  const parsed = parseDefinitionsFile(file, text);
  return 'problem' in parsed ? parsed : { document: { file, content: parsed.content } };
}

/**
 * Loads the definitions at `location`: one `.yaml`, `.yml` or `.json` file, or a folder whose
 * such files are merged in name order. The broker URL is `options.brokerUrl`, else the
 * environment's `WARREN_BROKER_URL`, else the files', else `amqp://guest:guest@localhost:5672/`.
 *
 * A file that cannot be read or parsed stops loading before validation, with one problem per
 * such file; otherwise every problem in every file is reported together. The result backend is
 * `options.resultBackend`, else `WARREN_RESULT_BACKEND`, else the files', else `rpc://`.
 *
 * @param options.env - defaults to `process.env`.
 * @returns the resolved definitions, deeply frozen.
 * @throws DefinitionsError with every problem, each naming its file and the path in it.
 */
export async function loadDefinitions(location: string, options: DefinitionsOptions = {}): Promise<Definitions> {
  const files = await definitionsFiles(location);
  const outcomes = await Promise.all(files.map(readDefinitionsFile));
  const problems = outcomes.flatMap((outcome) => ('problem' in outcome ? [outcome.problem] : []));
  if (problems.length > 0) throw new DefinitionsError(problems);
  const documents = outcomes.flatMap((outcome) => ('document' in outcome ? [outcome.document] : []));
  return resolveDefinitions(documents, { env: options.env ?? process.env, brokerUrl: options.brokerUrl, resultBackend: options.resultBackend });
}
