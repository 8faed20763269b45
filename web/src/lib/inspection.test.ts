import { describe, expect, it } from 'vitest';
import {
  dtypeMix,
  elementCount,
  filterTensors,
  formatShape,
  formatShare,
  tensorFiles,
} from './inspection';
import { layoutLineage, NODE_HEIGHT, NODE_WIDTH } from './lineage';

describe('inspection helpers', () => {
  it('turns parameters per dtype into shares, largest first', () => {
    expect(dtypeMix({ F32: 100, BF16: 300, I8: 0 })).toEqual([
      { dtype: 'BF16', params: 300, share: 0.75 },
      { dtype: 'F32', params: 100, share: 0.25 },
    ]);
    expect(dtypeMix({})).toEqual([]);
    expect(formatShare(0.75)).toBe('75%');
    expect(formatShare(0.0123)).toBe('1.2%');
    expect(formatShare(0.00001)).toBe('<0.1%');
  });

  it('lists readable weights files only, by path', () => {
    const files = [
      { path: 'b.safetensors', format: 'safetensors', readable: true },
      { path: 'config.json', format: 'hf-config', readable: true },
      { path: 'a.gguf', format: 'gguf', readable: true },
      { path: 'bad.safetensors', format: 'safetensors', readable: false },
    ];
    expect(tensorFiles(files).map((f) => f.path)).toEqual(['a.gguf', 'b.safetensors']);
  });

  it('counts elements, formats shapes and filters tensors by every word', () => {
    expect(elementCount([4, 3, 2])).toBe(24);
    expect(elementCount([])).toBe(1);
    expect(formatShape([4096, 11008])).toBe('4096 × 11008');
    expect(formatShape([])).toBe('scalar');
    const ts = [
      { name: 'model.layers.0.attn.q_proj.weight', dtype: 'BF16' },
      { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'F32' },
      { name: 'lm_head.weight', dtype: 'BF16' },
    ];
    expect(filterTensors(ts, '').length).toBe(3);
    expect(filterTensors(ts, 'LAYERS bf16').map((t) => t.name)).toEqual([
      'model.layers.0.attn.q_proj.weight',
    ]);
    expect(filterTensors(ts, 'nothing')).toEqual([]);
  });
});

describe('lineage layout', () => {
  it('stacks inputs on the left and centres the version on the right, one edge each', () => {
    const l = layoutLineage([
      { id: 'p', kind: 'parent' },
      { id: 'r', kind: 'run' },
      { id: 'd', kind: 'dataset' },
    ]);
    const self = l.nodes.find((n) => n.kind === 'this')!;
    const inputs = l.nodes.filter((n) => n.kind !== 'this');
    expect(inputs.map((n) => n.id)).toEqual(['p', 'r', 'd']);
    // Inputs do not overlap and share a column left of the version.
    for (let i = 1; i < inputs.length; i++) {
      expect(inputs[i]!.y).toBeGreaterThanOrEqual(inputs[i - 1]!.y + NODE_HEIGHT);
      expect(inputs[i]!.x).toBe(inputs[0]!.x);
    }
    expect(self.x).toBeGreaterThan(inputs[0]!.x + NODE_WIDTH);
    expect(self.y + NODE_HEIGHT / 2).toBeCloseTo(l.height / 2);
    expect(l.edges.map((e) => [e.from, e.to])).toEqual([
      ['p', 'this'],
      ['r', 'this'],
      ['d', 'this'],
    ]);
    expect(l.edges[0]!.d).toMatch(/^M\d+,\d+ C/);
    // Everything fits inside the drawing.
    for (const n of l.nodes) {
      expect(n.x + NODE_WIDTH).toBeLessThanOrEqual(l.width);
      expect(n.y + NODE_HEIGHT).toBeLessThanOrEqual(l.height);
    }
  });

  it('draws a lone version without edges', () => {
    const l = layoutLineage([]);
    expect(l.nodes).toHaveLength(1);
    expect(l.edges).toEqual([]);
  });
});
