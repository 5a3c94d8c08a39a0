import { LineCounter, parseDocument } from 'yaml';
import type { DefinitionProblem } from '../errors';

export type ParseOutcome = { readonly content: unknown } | { readonly problem: DefinitionProblem };

/** The file extensions read as definitions, lower case. */
export const DEFINITION_EXTENSIONS = ['.yaml', '.yml', '.json'];

function position(line: number, column: number): string {
  return `line ${line}, column ${column}`;
}

/** Line and column (both from 1) of a character offset. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return position(before.length, before[before.length - 1].length + 1);
}

/** The first syntax error only: those after it mostly follow from it. */
function parseYaml(file: string, text: string): ParseOutcome {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const [error] = document.errors;
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { problem: { file, path: position(line, col), message: `${error.message} (expected valid YAML)` } };
  }
  try {
    return { content: document.toJS() };
  } catch (failure) {
    const message = failure instanceof Error ? failure.message : String(failure);
    return { problem: { file, path: '', message: `${message} (expected valid YAML)` } };
  }
}

/** Node 20 says where only as "at position N", and sometimes not at all. */
function parseJson(file: string, text: string): ParseOutcome {
  try {
    return { content: JSON.parse(text) as unknown };
  } catch (failure) {
    const message = failure instanceof Error ? failure.message : String(failure);
    const at = /^(.*) in JSON at position (\d+)/s.exec(message);
    if (at) return { problem: { file, path: lineAndColumn(text, Number(at[2])), message: `${at[1]} (expected valid JSON)` } };
    if (message === 'Unexpected end of JSON input') {
      return { problem: { file, path: lineAndColumn(text, text.length), message: 'Unexpected end of input (expected valid JSON)' } };
    }
    const reason = message.replace(/, ".*" is not valid JSON$/s, '');
    return { problem: { file, path: '', message: `${reason} (expected valid JSON)` } };
  }
}

/**
 * Parses a definitions file's text by its extension: `.json` as JSON, `.yaml`/`.yml` as YAML
 * (core schema: unquoted timestamps stay strings). A syntax error is a problem located by line
 * and column where the parser says.
 */
export function parseDefinitionsFile(file: string, text: string): ParseOutcome {
  return file.toLowerCase().endsWith('.json') ? parseJson(file, text) : parseYaml(file, text);
}
