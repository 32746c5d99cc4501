// `reflex completion bash|zsh|fish`: a completion script for the shell, on stdout.
import { UserError } from '../../errors.js';
import { completionScript, SHELLS, type Shell, specOf } from '../completion.js';

export default async function completion(_opts: Record<string, unknown>, args: string[], program: Parameters<typeof specOf>[0]): Promise<number> {
  const shell = args[0] as Shell;
  if (!SHELLS.includes(shell)) throw new UserError(`completion ${args[0] ?? ''}: expected one of ${SHELLS.join(', ')}`.replace('  ', ' '));
  process.stdout.write(completionScript(shell, specOf(program)));
  return 0;
}
