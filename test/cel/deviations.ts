// Where Reflex's CEL deliberately answers differently from the CEL specification's conformance tests, and why.
// Each entry is also in the table "Where Reflex differs from the CEL specification" in docs/rules.md.

const CHECKED =
  'Reflex type-checks every expression before anything runs (`reflex check`); the test turns the checker off to see what evaluation does, and Reflex refuses the expression instead. A refused rule never acts.';
const MILLISECONDS = 'Timestamps hold milliseconds (JavaScript dates), so nanoseconds are cut to milliseconds.';

const DIVISION_BY_ZERO =
  'Division by zero is unknown for every number type (CEL gives ±Infinity or NaN for doubles), so `errors / requests > 0.05` never acts on an empty window.';

export const DEVIATIONS: Readonly<Record<string, string>> = {
  'comparisons/eq_literal/not_eq_double_nan': DIVISION_BY_ZERO,
  'comparisons/eq_literal/not_eq_int_double_nan': DIVISION_BY_ZERO,
  'fp_math/fp_math/divide_zero': DIVISION_BY_ZERO,
  'fp_math/fp_math/mod_not_support': '`%` works on doubles too (facts from JSON are doubles: `facts.minute % 5 == 0` must work).',
  'comparisons/eq_literal/not_eq_list_length': CHECKED,
  'comparisons/eq_literal/eq_list_elem_mixed_types': CHECKED,
  'comparisons/lte_literal/lte_dyn_big_double_int':
    'An int and a double compare by their exact values; the specification converts the int to a double first, which rounds 9223372036854775807 up to 2^63.',
  'comparisons/gte_literal/gte_dyn_int_big_lossy_double':
    'An int and a double compare by their exact values; the specification converts the int to a double first, which rounds 9223372036854775807 up to 2^63.',
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
