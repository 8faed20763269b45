/** Turns a manifest's flat, path-sorted file list into a tree with directory totals. */

export interface FileLeaf {
  readonly kind: 'file';
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface DirNode {
  readonly kind: 'dir';
  readonly name: string;
  readonly path: string;
  size: number;
  fileCount: number;
  readonly children: (DirNode | FileLeaf)[];
}

/** Directories first, then files, each by name. Sizes and counts add up through the tree. */
export function buildFileTree(
  files: readonly { path: string; size: number; sha256: string }[],
): DirNode {
  const root: DirNode = { kind: 'dir', name: '', path: '', size: 0, fileCount: 0, children: [] };
  for (const f of files) {
    const parts = f.path.split('/');
    let dir = root;
    dir.size += f.size;
    dir.fileCount++;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i]!;
      let next = dir.children.find((c): c is DirNode => c.kind === 'dir' && c.name === name);
      if (!next) {
        next = {
          kind: 'dir',
          name,
          path: parts.slice(0, i + 1).join('/'),
          size: 0,
          fileCount: 0,
          children: [],
        };
        dir.children.push(next);
      }
      next.size += f.size;
      next.fileCount++;
      dir = next;
    }
    dir.children.push({
      kind: 'file',
      name: parts[parts.length - 1]!,
      path: f.path,
      size: f.size,
      sha256: f.sha256,
    });
  }
  const sort = (d: DirNode) => {
    d.children.sort((a, b) =>
      a.kind !== b.kind
        ? a.kind === 'dir'
          ? -1
          : 1
        : a.name < b.name
          ? -1
          : a.name > b.name
            ? 1
            : 0,
    );
    for (const c of d.children) if (c.kind === 'dir') sort(c);
  };
  sort(root);
  return root;
}
