#!/usr/bin/python3
"""A tile collection from a cost model that gst never saw, written by numpy.

gst synth's tile family puts (minor, second-minor, outer) tile sizes and their log2s in its config
columns and prices padding its own way. This writer follows the column conventions of real
TpuGraphs instead, with its own kernels and cost:

  node_feat   0 is_root, 1 element size in bits, 2..19 element type one-hot, 21..26 shape dims in
              logical order (0 past the rank), 27 their sum, 28 their product, 93..122 irrelevant
              columns (noise, counts, flags, heavy-tailed values), 134..139 the tensor's
              minor-to-major layout (-1 past the rank): which dim is minor-most is only there.
  config_feat [24] three groups of six per-dim values (logical order, 0 past the rank), each
              followed by their sum and product, as the real tile configs (kernel, output and
              input bounds): the output tile's extent per dim, the number of tiles per dim, and
              the tile of the kernel's widest operand (for a matrix product: the contraction tile
              in the first slot).

Kernels are a few to tens of nodes: parameters, elementwise ops in the output's shape (operands
of lower rank broadcast along the leading dims), and in 40% of them a matrix product
[..., M, K] x [..., K, N] feeding the rest. Hidden cost of a tile config (t per output dim):
  compute   sum over nodes of op weight x their padded tile volume x number of tiles, where the
            minor-most dim (by the node's layout) pads to a multiple of 128 and the second-minor
            to 8; a product adds 2 K per output element, its K padded to the contraction tile
  traffic   a product re-reads its left operand once per tile column and its right one once per
            tile row (x a_reread)
  overhead  a_tile per tile, and per contraction step of a product
  spill     a footprint (double-buffered tiles of every node and operand) F beyond the on-chip
            memory V multiplies the whole cost by 1 + a_spill (F / V - 1)
runtime = cost x lognormal noise; config_runtime_normalizers hold the runtime of a default tile
(each dim's tile min(dim, 8), minor min(dim, 128)) with fresh noise. Prints the noise ceiling of
the valid split: Kendall tau of the noiseless cost against the runtimes and the top-1 / top-5
slowdowns of picking by the noiseless cost (the oracle here is the formula itself, so its tau is
the ceiling). The weights, memory and noise are command-line options, so several variants can be
written.
"""
import argparse
import os

import numpy as np

COL_ROOT, COL_BITS, COL_TYPE, COL_DIMS, COL_SUM, COL_PROD = 0, 1, 2, 21, 27, 28
COL_MISC, COL_LAYOUT = 93, 134
DIM_VALUES = np.array([1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 48, 64, 96, 100, 128, 160, 192, 256, 300,
                       384, 512, 768, 1000, 1024, 2048])
PARAMETER, DOT = 60, 34
ELEMENTWISE = [(1, 1.0), (3, 1.0), (15, 2.5), (38, 3.0), (57, 1.2), (88, 1.5)]  # (opcode, weight)


def kendall_tau(a, b):
    i, j = np.triu_indices(len(a), 1)
    s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s.sum() / max(1, len(s))


def slowdown(score, runtime, k):
    return runtime[np.argsort(score, kind="stable")[:k]].min() / runtime.min() - 1


def draw_dims(rng, rank, limit=2**24):
    while True:
        dims = rng.choice(DIM_VALUES, size=rank)
        if dims.prod() <= limit:
            return dims


def make_kernel(rng, w):
    """Nodes (dims, layout, opcode, weight), edges and the product's (M, K, N), if any."""
    rank = int(rng.choice([2, 3, 4], p=[0.5, 0.35, 0.15]))
    out = draw_dims(rng, rank)
    # Most tensors are row-major (last dim minor); some kernels run transposed.
    layout = np.arange(rank)[::-1] if rng.random() < 0.7 else rng.permutation(rank)
    nodes, edges = [], []

    def add(dims, lay, op, weight, inputs):
        nodes.append((np.array(dims), np.array(lay), op, weight))
        edges.extend((u, len(nodes) - 1) for u in inputs)
        return len(nodes) - 1

    dot = None
    current = []
    if rng.random() < w.dots:
        k = int(rng.choice(DIM_VALUES[3:]))
        # The product's operands: priced by its traffic and footprint terms, not as tiles.
        left = add(list(out[:-1]) + [k], layout, PARAMETER, None, [])
        right = add(list(out[:-2]) + [k, out[-1]], layout, PARAMETER, None, [])
        current = [add(out, layout, DOT, 1.0, [left, right])]
        dot = (int(out[-2]), k, int(out[-1]))
    for _ in range(int(rng.integers(2, w.max_ops + 1))):
        if not current or rng.random() < 0.4:
            r = int(rng.integers(1, rank + 1))  # a parameter, broadcast along the leading dims
            own = [x - (rank - r) for x in layout if x >= rank - r]
            current.append(add(out[rank - r:], own, PARAMETER, 0.5, []))
        op, weight = ELEMENTWISE[int(rng.integers(len(ELEMENTWISE)))]
        take = current[-2:] if len(current) > 1 and rng.random() < 0.6 else current[-1:]
        current = [c for c in current if c not in take]
        current.append(add(out, layout, op, weight, take))
    root = add(out, layout, ELEMENTWISE[0][0], ELEMENTWISE[0][1], current)
    return nodes, edges, root, dot


def node_features(rng, nodes, root):
    n = len(nodes)
    feat = np.zeros((n, 140), np.float32)
    feat[root, COL_ROOT] = 1
    bits = rng.choice([16, 32], p=[0.4, 0.6])
    feat[:, COL_BITS] = bits
    feat[:, COL_TYPE + (0 if bits == 32 else 3)] = 1
    feat[:, COL_LAYOUT:COL_LAYOUT + 6] = -1
    for v, (dims, lay, _, _) in enumerate(nodes):
        feat[v, COL_DIMS:COL_DIMS + len(dims)] = dims
        feat[v, COL_SUM], feat[v, COL_PROD] = dims.sum(), dims.prod()
        feat[v, COL_LAYOUT:COL_LAYOUT + len(lay)] = lay
    feat[:, COL_MISC:COL_MISC + 10] = rng.normal(size=(n, 10))
    feat[:, COL_MISC + 10:COL_MISC + 20] = rng.integers(-1, 6, size=(n, 10))
    feat[:, COL_MISC + 20:COL_MISC + 25] = np.exp(rng.normal(2, 2, size=(n, 5)))
    feat[:, COL_MISC + 25:COL_MISC + 30] = rng.random(size=(n, 5)) < 0.2
    return feat, bits // 8


def tile_candidates(d):
    c = {int(d)} | {2**i for i in range(12) if 2**i < d}
    return np.array(sorted(c))


def draw_configs(rng, out, dot, count):
    """[C, rank] output tiles and [C] contraction tiles, distinct, at most `count`."""
    seen, tiles, ktiles = set(), [], []
    cands = [tile_candidates(d) for d in out]
    kcands = tile_candidates(dot[1]) if dot else np.array([0])
    for _ in range(count * 20):
        t = tuple(int(rng.choice(c)) for c in cands) + (int(rng.choice(kcands)),)
        if t not in seen:
            seen.add(t)
            tiles.append(t[:-1])
            ktiles.append(t[-1])
        if len(tiles) == count:
            break
    return np.array(tiles), np.array(ktiles)


def padded_volume(dims, lay, tile):
    """Elements of one tile of a node: its dims align with the output's trailing dims."""
    t = np.minimum(tile[len(tile) - len(dims):], dims).astype(float)
    if len(lay) > 0:
        t[lay[0]] = np.ceil(t[lay[0]] / 128) * 128
    if len(lay) > 1:
        t[lay[1]] = np.ceil(t[lay[1]] / 8) * 8
    return t.prod()


def cost(nodes, dot, out, tile, ktile, elem_bytes, w):
    tiles = np.ceil(out / tile).prod()
    compute, footprint = 0.0, 0.0
    for dims, lay, _, weight in nodes:
        if weight is None:
            continue
        v = padded_volume(dims, lay, tile)
        compute += weight * v * tiles
        footprint += v * elem_bytes
    traffic = overhead = 0.0
    if dot:
        m, k, n = dot
        kt = min(ktile, k)
        steps = np.ceil(k / kt)
        compute += 2 * steps * kt * np.prod(np.minimum(tile, out)) * tiles / 8
        rows, cols = np.ceil(out[-2] / tile[-2]), np.ceil(out[-1] / tile[-1])
        batch = np.prod(out[:-2])
        traffic = w.reread * batch * k * (m * cols + n * rows)
        overhead = w.tile_cost * tiles * steps
        footprint += (tile[-2] * kt + kt * tile[-1]) * elem_bytes
    overhead += w.tile_cost * tiles
    total = (compute + traffic) / 1e4 + overhead
    spill = 2 * footprint / (w.vmem_kib * 1024)
    return total * (1 + w.spill * max(0.0, spill - 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--graphs", type=int, default=420, help="train kernels (valid and test: 3/14)")
    p.add_argument("--configs", type=int, default=100)
    p.add_argument("--max-ops", type=int, default=12, help="elementwise ops per kernel, at most")
    p.add_argument("--dots", type=float, default=0.4, help="share of kernels with a matrix product")
    p.add_argument("--tile-cost", type=float, default=2.0, help="overhead per tile (and per step)")
    p.add_argument("--reread", type=float, default=0.5, help="weight of a product's re-reads")
    p.add_argument("--vmem-kib", type=float, default=512, help="on-chip memory V")
    p.add_argument("--spill", type=float, default=1.0, help="slowdown per V of footprint past V")
    p.add_argument("--noise", type=float, default=0.03, help="lognormal sigma of the runtimes")
    p.add_argument("--seed", type=int, default=1)
    w = p.parse_args()
    rng = np.random.default_rng(w.seed)
    held_out = max(1, w.graphs * 3 // 14)
    taus, top1, top5 = [], [], []
    for split, count in [("train", w.graphs), ("valid", held_out), ("test", held_out)]:
        d = os.path.join(w.out, "npz", "tile", "xla", split)
        os.makedirs(d, exist_ok=True)
        for i in range(count):
            nodes, edges, root, dot = make_kernel(rng, w)
            feat, elem_bytes = node_features(rng, nodes, root)
            out = nodes[root][0].astype(float)
            tiles, ktiles = draw_configs(rng, out, dot, w.configs)
            if len(tiles) < 2:
                continue
            noiseless = np.array([cost(nodes, dot, out, t, k, elem_bytes, w)
                                  for t, k in zip(tiles, ktiles)])
            runtime = noiseless * np.exp(w.noise * rng.normal(size=len(tiles)))
            default = np.where(np.arange(len(out)) == nodes[root][1][0], 128, 8)
            default_cost = cost(nodes, dot, out, np.minimum(out, default), 128, elem_bytes, w)
            normalizer = default_cost * np.exp(w.noise * rng.normal(size=len(tiles)))
            config = np.zeros((len(tiles), 24), np.float32)
            counts = np.ceil(out / tiles)
            wide = np.zeros_like(tiles)
            wide[:, 0] = ktiles if dot else tiles[:, 0]
            wide[:, 1:] = tiles[:, 1:] if not dot else tiles[:, :-1]
            for g, values in enumerate([tiles, counts, wide]):
                config[:, 8 * g:8 * g + len(out)] = values
                config[:, 8 * g + 6] = values.sum(1)
                config[:, 8 * g + 7] = values.prod(1)
            np.savez_compressed(
                os.path.join(d, "k%04d.npz" % i), node_feat=feat,
                node_opcode=np.array([v[2] for v in nodes], np.uint8),
                edge_index=np.array(edges, np.int64).reshape(-1, 2), config_feat=config,
                config_runtime=np.round(runtime * 1e3).astype(np.int64),
                config_runtime_normalizers=np.round(normalizer * 1e3).astype(np.int64))
            if split == "valid":
                taus.append(kendall_tau(noiseless, runtime))
                top1.append(slowdown(noiseless, runtime, 1))
                top5.append(slowdown(noiseless, runtime, 5))
    print("independent tile cost family: noise ceiling tau %.4f, oracle tau %.4f, top-1/5 slowdown "
          "%.4f/%.4f (valid, %d kernels)" % (np.mean(taus), np.mean(taus), np.mean(top1),
                                            np.mean(top5), len(taus)))


if __name__ == "__main__":
    main()
