// The schema of scenario test files (`reflex test`); filled in by the rule-testing work.
import { z } from 'zod';

export const ScenarioFile = z.strictObject({
  $schema: z.string().optional(),
});
