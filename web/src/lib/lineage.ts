/**
 * Layout of the version page's lineage graph: the version's inputs (parents, run,
 * datasets, code) in a column on the left, the version on the right, and an edge from
 * each input to it. Pure arithmetic on fixed-size boxes, unit-tested in lineage.test.ts;
 * components/lineage-graph.tsx draws it (SVG edges under HTML nodes, so links are real).
 */

export type LineageKind = 'parent' | 'run' | 'dataset' | 'code' | 'this';

export interface LineageNode {
  readonly id: string;
  readonly kind: LineageKind;
  readonly x: number;
  readonly y: number;
}

export interface LineageEdge {
  readonly from: string;
  readonly to: string;
  /** An SVG path: a horizontal S-curve from the input's right edge to the version's left. */
  readonly d: string;
}

export interface LineageLayout {
  readonly width: number;
  readonly height: number;
  readonly nodeWidth: number;
  readonly nodeHeight: number;
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly LineageEdge[];
}

export const NODE_WIDTH = 260;
export const NODE_HEIGHT = 56;
const GAP_Y = 14;
const GAP_X = 120;
const PAD = 8;

/** Positions for `inputs` (in order, top to bottom) and the version they lead to. */
export function layoutLineage(
  inputs: readonly { readonly id: string; readonly kind: Exclude<LineageKind, 'this'> }[],
  thisId = 'this',
): LineageLayout {
  const rows = Math.max(1, inputs.length);
  const height = PAD * 2 + rows * NODE_HEIGHT + (rows - 1) * GAP_Y;
  const rightX = PAD + (inputs.length > 0 ? NODE_WIDTH + GAP_X : 0);
  const width = rightX + NODE_WIDTH + PAD;
  const thisY = (height - NODE_HEIGHT) / 2;
  const nodes: LineageNode[] = inputs.map((n, i) => ({
    id: n.id,
    kind: n.kind,
    x: PAD,
    y: PAD + i * (NODE_HEIGHT + GAP_Y),
  }));
  nodes.push({ id: thisId, kind: 'this', x: rightX, y: thisY });
  const toX = rightX;
  const toY = thisY + NODE_HEIGHT / 2;
  const edges = inputs.map((n, i) => {
    const fromX = PAD + NODE_WIDTH;
    const fromY = PAD + i * (NODE_HEIGHT + GAP_Y) + NODE_HEIGHT / 2;
    const mid = (fromX + toX) / 2;
    return {
      from: n.id,
      to: thisId,
      d: `M${fromX},${fromY} C${mid},${fromY} ${mid},${toY} ${toX},${toY}`,
    };
  });
  return { width, height, nodeWidth: NODE_WIDTH, nodeHeight: NODE_HEIGHT, nodes, edges };
}
