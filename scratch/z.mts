import { z } from 'zod';
import * as S from '../src/config/schema.ts';
const r = S.Config.safeParse({ sources: [{ name: 'p', kind: 'promethus', url: 'x' }, {name:'i', kind:'inventory', path: 3, extra: 1}], defaults: { cooldwon: '5m', mode: 'yes' }, guardrails: {budget_per_run: 'x'} });
console.log(JSON.stringify(r.error?.issues, null, 1));
const j = z.toJSONSchema(S.Config, { io: 'input' });
console.log(JSON.stringify(j).length);
