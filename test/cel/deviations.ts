// Where Reflex's CEL deliberately answers differently from the CEL specification's conformance tests, and why.
// Each entry is also in the table "Where Reflex differs from the CEL specification" in docs/rules.md.

const CHECKED =
  'Reflex type-checks every expression before anything runs (`reflex check`); the test turns the checker off to see what evaluation does, and Reflex refuses the expression instead. A refused rule never acts.';
const MILLISECONDS = 'Timestamps hold milliseconds (JavaScript dates), so nanoseconds are cut to milliseconds.';

export const DEVIATIONS: Readonly<Record<string, string>> = {
  'logic/conditional/mixed_type': CHECKED,
  'logic/AND/short_circuit_type_left': CHECKED,
  'logic/AND/short_circuit_type_right': CHECKED,
  'logic/OR/short_circuit_type_left': CHECKED,
  'logic/OR/short_circuit_type_right': CHECKED,
  'macros/exists_one/map_one':
    'A map literal with int keys keeps its keys as strings (the CEL library stores maps as objects), so `foo % 5` has no overload and the result is unknown. Maps in rules come from JSON and always have string keys.',
  'timestamps/timestamp_conversions/toString_timestamp_nanos': MILLISECONDS,
  'timestamps/timestamp_arithmetic/add_time_to_duration_nanos_positive': MILLISECONDS,
  'timestamps/timestamp_range/add_duration_nanos_over': MILLISECONDS,
  'timestamps/timestamp_arithmetic/add_time_to_duration':
    'The CEL library types `duration + timestamp` as a duration, so comparing it with a timestamp is refused by check. Write `timestamp + duration`.',
};
