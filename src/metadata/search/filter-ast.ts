/**
 * The parsed form of a search filter in MLflow's filter syntax, extended with OR and
 * parentheses:  name LIKE 'fraud%' AND (metrics.auc > 0.9 OR tags.team = 'risk')
 *
 * Produced by `parseFilter` (filter-parser.ts), compiled to parameterised SQL by the
 * search compiler. Positions are 0-based character offsets into the filter text, so
 * errors can point at the offending token.
 */

/**
 * Which namespace a field belongs to: `metrics.auc` → metric 'auc'; `name` → attribute;
 * `datasets.name` → dataset 'name' (MLflow's run search over logged dataset inputs:
 * `name`, `digest` or `context`).
 */
export type FieldScope = 'attribute' | 'metric' | 'param' | 'tag' | 'alias' | 'dataset';

export interface FieldRef {
  readonly scope: FieldScope;
  /** Attribute name (`name`, `version_number`, `run_id`, …) or the metric/param/tag key. */
  readonly key: string;
  readonly pos: number;
}

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE';
export type FilterValue = string | number;

export type FilterExpr =
  | { readonly kind: 'and'; readonly items: readonly FilterExpr[] }
  | { readonly kind: 'or'; readonly items: readonly FilterExpr[] }
  | {
      readonly kind: 'compare';
      readonly field: FieldRef;
      readonly op: CompareOp;
      readonly value: FilterValue;
      readonly pos: number;
    }
  | {
      readonly kind: 'in';
      readonly field: FieldRef;
      readonly negated: boolean;
      readonly values: readonly FilterValue[];
      readonly pos: number;
    }
  | {
      readonly kind: 'null';
      readonly field: FieldRef;
      readonly negated: boolean;
      readonly pos: number;
    };

export interface OrderByTerm {
  readonly field: FieldRef;
  readonly direction: 'asc' | 'desc';
}
