// Shell completion scripts (bash, zsh, fish), generated from the command-line definition itself, so that a new
// command or option completes without anyone remembering to add it here.

/** The little of a commander option and command that completion needs. */
export interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  /** Takes a value (`--config <file>`). */
  takesValue: boolean;
  choices?: readonly string[];
}
export interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
}
export interface ProgramSpec {
  name: string;
  options: OptionSpec[];
  commands: CommandSpec[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Options whose value is a file name: completed with file names. */
const FILE_OPTIONS = new Set(['--config', '--junit', '--token-file']);

interface CommanderOption {
  short?: string;
  long?: string;
  description: string;
  required: boolean;
  optional: boolean;
  argChoices?: string[];
  hidden?: boolean;
}
interface CommanderCommand {
  name(): string;
  description(): string;
  options: readonly CommanderOption[];
  commands: readonly CommanderCommand[];
}

const optionSpec = (o: CommanderOption): OptionSpec => ({
  short: o.short,
  long: o.long,
  description: o.description,
  takesValue: o.required || o.optional,
  choices: o.argChoices,
});

/** Read the spec from a commander program (help and version included, hidden options left out). */
export function specOf(program: CommanderCommand): ProgramSpec {
  return {
    name: program.name(),
    options: [...program.options.filter((o) => !o.hidden).map(optionSpec), { long: '--help', short: '-h', description: 'display help', takesValue: false }],
    commands: program.commands.map((c) => ({
      name: c.name(),
      description: c.description(),
      // --help is the program's option, offered with every command's own.
      options: c.options.filter((o) => !o.hidden).map(optionSpec),
    })),
  };
}

const flags = (o: OptionSpec) => [o.short, o.long].filter((x): x is string => !!x);
const firstLine = (s: string) => s.split('\n')[0]!.trim();

function bash(p: ProgramSpec): string {
  const fn = `_${p.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const valued = [...p.options, ...p.commands.flatMap((c) => c.options)].filter((o) => o.takesValue);
  const valueCases = [...new Map(valued.flatMap((o) => flags(o).map((f) => [f, o] as const))).entries()].map(([f, o]) => {
    if (o.choices) return `    ${f}) COMPREPLY=($(compgen -W "${o.choices.join(' ')}" -- "$cur")); return ;;`;
    if (o.long && FILE_OPTIONS.has(o.long)) return `    ${f}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`;
    return `    ${f}) return ;;`;
  });
  const takes = valued.flatMap(flags).join('|');
  const perCommand = p.commands.map((c) => `    ${c.name}) opts="${c.options.flatMap(flags).join(' ')}" ;;`);
  return `# ${p.name} completion for bash. Load it in this shell:  source <(${p.name} completion bash)
# or for every shell:  ${p.name} completion bash > /etc/bash_completion.d/${p.name}
${fn}() {
  local cur prev cmd i opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${valueCases.join('\n')}
  esac
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${takes || '--'}) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  local global="${p.options.flatMap(flags).join(' ')}"
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${p.commands.map((c) => c.name).join(' ')} $global" -- "$cur"))
    return
  fi
  opts=""
  case "$cmd" in
${perCommand.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F ${fn} ${p.name}
`;
}

/** zsh's _arguments spec of one option: `'(-c --config)'{-c,--config}'[description]:value:_files'`. */
function zshOption(o: OptionSpec): string {
  const desc = firstLine(o.description).replace(/[[\]\\:']/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));
  const value = o.takesValue ? (o.choices ? `:value:(${o.choices.join(' ')})` : o.long && FILE_OPTIONS.has(o.long) ? ':file:_files' : ':value: ') : '';
  const f = flags(o);
  if (f.length === 1) return `'${f[0]}[${desc}]${value}'`;
  return `'(${f.join(' ')})'{${f.join(',')}}'[${desc}]${value}'`;
}

function zsh(p: ProgramSpec): string {
  const fn = `_${p.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const cmds = p.commands.map((c) => `    '${c.name}:${firstLine(c.description).replace(/[:']/g, (ch) => (ch === "'" ? "'\\''" : '\\:'))}'`);
  const cases = p.commands.map((c) => `        ${c.name}) _arguments ${c.options.map(zshOption).join(' ')} '*:file:_files' ;;`);
  return `#compdef ${p.name}
# ${p.name} completion for zsh. Load it in this shell:  source <(${p.name} completion zsh)
# or put it in a folder of $fpath as _${p.name}.
${fn}() {
  local -a commands
  commands=(
${cmds.join('\n')}
  )
  local curcontext="$curcontext" state line
  _arguments -C ${p.options.map(zshOption).join(' ')} '1: :->command' '*:: :->args'
  case $state in
    command) _describe -t commands 'command' commands ;;
    args)
      case $line[1] in
${cases.join('\n')}
      esac
      ;;
  esac
}
if [[ "$funcstack[1]" = "${fn}" ]]; then ${fn} "$@"; else compdef ${fn} ${p.name}; fi
`;
}

function fish(p: ProgramSpec): string {
  const q = (s: string) => `'${firstLine(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const opt = (o: OptionSpec, cond: string) => {
    const parts = [`complete -c ${p.name}`, cond];
    if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
    if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
    if (o.takesValue) parts.push(o.choices ? `-x -a ${q(o.choices.join(' '))}` : o.long && FILE_OPTIONS.has(o.long) ? '-r -F' : '-x');
    parts.push(`-d ${q(o.description)}`);
    return parts.join(' ');
  };
  const lines = [
    `# ${p.name} completion for fish. Load it:  ${p.name} completion fish | source`,
    `# or for good:  ${p.name} completion fish > ~/.config/fish/completions/${p.name}.fish`,
    `complete -c ${p.name} -f`,
    ...p.options.map((o) => opt(o, '')),
    ...p.commands.map((c) => `complete -c ${p.name} -n __fish_use_subcommand -a ${c.name} -d ${q(c.description)}`),
    ...p.commands.flatMap((c) => c.options.map((o) => opt(o, `-n '__fish_seen_subcommand_from ${c.name}'`))),
  ];
  return `${lines.map((l) => l.replace(/ {2,}/g, ' ')).join('\n')}\n`;
}

export function completionScript(shell: Shell, spec: ProgramSpec): string {
  return shell === 'bash' ? bash(spec) : shell === 'zsh' ? zsh(spec) : fish(spec);
}
