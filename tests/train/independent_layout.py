#!/usr/bin/python3
"""A layout collection from a cost model that gst never saw, written by numpy.

gst synth puts its features where src/data/synth_cost.h says and prices layouts its own way; a
model tuned to it can look good and still fail on other data. This writer follows the column
conventions of real TpuGraphs node features instead, with its own distractors and cost:

  node_feat   0 is_root, 1 element size in bits, 2..19 element type one-hot, 21..26 shape dims
              (0 past the rank), 27 their sum, 28 their product, 31..36 "dimensions" attribute
              (reduce/transpose dims: small integers like layout indices, irrelevant here),
              37..92 window sizes/strides/padding of convolutions, 93..133 mixed irrelevant
              columns (noise, counts, flags, constants), 134..139 the tensor's own
              minor-to-major layout, -1 past the rank.
  config      18 values: output layout (a minor-to-major permutation of the node's dims), the
              layout it wants for its first operand (a permutation of the operand's dims), six -1;
              all 18 are -1 where a config leaves the node to the compiler (it keeps its own
              layout and takes its operand as it comes).

Hidden cost of a config, summed over configurable nodes v (bytes B, dims d, layout L):
  tiles     B x (tile padding of L: minor dim to a multiple of 128, second-minor to 8) x a_pad
  transpose B x a_tr when L differs from the node's own layout (a strided write)
  operand   B_u x a_cp when the operand layout v asks for differs from the one its producer u
            writes (u's config layout if u is configurable, else u's own)
plus a config-independent base; runtime = cost x lognormal noise. The weights a_pad, a_tr, a_cp
and the noise are command-line options, so several variants can be written.
Prints the noise ceiling (mean over valid graphs of Kendall tau of the noiseless cost against the
runtime) and the tau of an oracle that knows the formula but leaves out the operand copies.
"""
import argparse
import os

import numpy as np

COL_ROOT, COL_BITS, COL_TYPE, COL_DIMS, COL_SUM, COL_PROD = 0, 1, 2, 21, 27, 28
COL_ATTR_DIMS, COL_WINDOW, COL_MISC, COL_LAYOUT = 31, 37, 93, 134
DIM_VALUES = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 100, 128, 192, 200, 256, 300,
                       384, 512, 768, 1000, 1024, 2048])
# opcodes: (code, configurable when rank >= 2, relative base cost)
OPCODES = [(2, False, 0.2), (13, False, 0.3), (24, False, 0.5), (26, True, 4.0), (34, True, 3.0),
           (52, True, 1.0), (63, True, 1.5), (71, True, 0.8), (80, False, 0.1), (95, False, 0.2),
           (100, False, 0.4), (111, False, 0.2)]


def kendall_tau(a, b):
    n = len(a)
    i, j = np.triu_indices(n, 1)
    s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s.sum() / max(1, len(s))


def pad_factor(dims, layout):
    """Blow-up of a tensor laid out minor-to-major as `layout` in (8, 128) tiles."""
    if len(layout) == 0:
        return 1.0
    f = np.ceil(dims[layout[0]] / 128) * 128 / dims[layout[0]]
    if len(layout) > 1:
        f *= np.ceil(dims[layout[1]] / 8) * 8 / dims[layout[1]]
    return f


def draw_dims(rng, rank):
    """Dims of a tensor of at most 2^26 elements (a few big tensors, many small)."""
    while True:
        dims = rng.choice(DIM_VALUES, size=rank)
        if dims.prod() <= 2**26:
            return dims


def make_graph(rng, n):
    rank = rng.choice([1, 2, 3, 4], size=n, p=[0.15, 0.4, 0.3, 0.15])
    dims = [draw_dims(rng, r) for r in rank]
    bits = rng.choice([16, 32], size=n, p=[0.4, 0.6])
    ops = rng.integers(0, len(OPCODES), size=n)
    own = [np.arange(r)[::-1] if rng.random() < 0.6 else rng.permutation(r) for r in rank]
    src, dst = [], []
    for v in range(1, n):
        for u in set(rng.integers(max(0, v - 20), v, size=rng.integers(1, 3))):
            src.append(u)
            dst.append(v)
    first_operand = np.full(n, -1)
    for u, v in zip(src, dst):
        if first_operand[v] < 0:
            first_operand[v] = u
    feat = np.zeros((n, 140), np.float32)
    feat[n - 1, COL_ROOT] = 1
    feat[:, COL_BITS] = bits
    feat[np.arange(n), COL_TYPE + rng.integers(0, 3, size=n) * 3] = 1
    feat[:, COL_ATTR_DIMS:COL_ATTR_DIMS + 6] = -1
    feat[:, COL_LAYOUT:COL_LAYOUT + 6] = -1
    for v in range(n):
        r = rank[v]
        feat[v, COL_DIMS:COL_DIMS + r] = dims[v]
        feat[v, COL_SUM], feat[v, COL_PROD] = dims[v].sum(), dims[v].prod()
        feat[v, COL_ATTR_DIMS:COL_ATTR_DIMS + rng.integers(0, r + 1)] = rng.integers(0, r)
        feat[v, COL_LAYOUT:COL_LAYOUT + r] = own[v]
        if OPCODES[ops[v]][0] == 26:  # convolution-like: window sizes, strides, padding
            feat[v, COL_WINDOW:COL_WINDOW + 12] = rng.choice([1, 2, 3, 5, 7], size=12)
    feat[:, COL_MISC:COL_MISC + 10] = rng.normal(size=(n, 10))
    feat[:, COL_MISC + 10:COL_MISC + 20] = rng.integers(0, 6, size=(n, 10))
    feat[:, COL_MISC + 20:COL_MISC + 25] = np.exp(rng.normal(2, 2, size=(n, 5)))
    feat[:, COL_MISC + 25:COL_MISC + 30] = rng.random(size=(n, 5)) < 0.2
    configurable = np.array([v for v in range(n) if OPCODES[ops[v]][1] and rank[v] >= 2])
    edges = np.ascontiguousarray(np.array([src, dst], np.int64).T)  # numpy's .T is Fortran order
    return dict(rank=rank, dims=dims, bits=bits, ops=ops, own=own, feat=feat, edges=edges,
                first_operand=first_operand, configurable=configurable)


def draw_configs(rng, g, count):
    """[C, M, 18] layouts: per node unset (-1) 10%, its own layout 30%, else a permutation."""
    m = len(g["configurable"])
    out = np.full((count, m, 18), -1, np.float32)
    for c in range(count):
        for j, v in enumerate(g["configurable"]):
            if rng.random() < 0.1:
                continue
            r = g["rank"][v]
            out[c, j, :r] = g["own"][v] if rng.random() < 0.3 else rng.permutation(r)
            u = g["first_operand"][v]
            if u >= 0:
                ru = g["rank"][u]
                out[c, j, 6:6 + ru] = g["own"][u] if rng.random() < 0.3 else rng.permutation(ru)
    return out


def true_costs(g, configs, w):
    size = np.array([np.prod(d) * b / 8 for d, b in zip(g["dims"], g["bits"])]) / 2**20
    base = w.base * sum(OPCODES[o][2] * s for o, s in zip(g["ops"], size))
    index = {v: j for j, v in enumerate(g["configurable"])}
    costs, without_copies = [], []
    for cfg in configs:
        def out_layout(v):
            if v in index and cfg[index[v], 0] >= 0:
                return tuple(int(x) for x in cfg[index[v], :g["rank"][v]])
            return tuple(int(x) for x in g["own"][v])
        total, simple = base, base
        for j, v in enumerate(g["configurable"]):
            layout = out_layout(v)
            pad = pad_factor(g["dims"][v], layout)
            moved = layout != tuple(int(x) for x in g["own"][v])
            local = size[v] * (w.pad * pad + w.transpose * moved)
            total += local
            simple += local
            u = g["first_operand"][v]
            if u >= 0 and cfg[j, 6] >= 0:
                wanted = tuple(int(x) for x in cfg[j, 6:6 + g["rank"][u]])
                total += size[u] * w.copy * (wanted != out_layout(u))
        costs.append(total)
        without_copies.append(simple)
    return np.array(costs), np.array(without_copies)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--graphs", type=int, default=40, help="train graphs (valid and test: a fifth)")
    p.add_argument("--configs", type=int, default=64)
    p.add_argument("--min-nodes", type=int, default=300)
    p.add_argument("--max-nodes", type=int, default=3000)
    p.add_argument("--base", type=float, default=0.2, help="weight of the config-free cost")
    p.add_argument("--pad", type=float, default=0.05, help="weight of tile padding")
    p.add_argument("--transpose", type=float, default=1.0, help="weight of leaving the own layout")
    p.add_argument("--copy", type=float, default=1.0, help="weight of an operand relayout copy")
    p.add_argument("--noise", type=float, default=0.03, help="lognormal sigma of the runtimes")
    p.add_argument("--seed", type=int, default=1)
    w = p.parse_args()
    rng = np.random.default_rng(w.seed)
    ceiling, oracle = [], []
    held_out = max(1, w.graphs // 5)
    splits = [("train", w.graphs), ("valid", held_out), ("test", held_out)]
    for split, count in splits:
        d = os.path.join(w.out, "npz", "layout", "xla", "random", split)
        os.makedirs(d, exist_ok=True)
        for i in range(count):
            g = make_graph(rng, int(rng.integers(w.min_nodes, w.max_nodes + 1)))
            configs = draw_configs(rng, g, w.configs)
            cost, simple = true_costs(g, configs, w)
            runtime = cost * np.exp(w.noise * rng.normal(size=len(cost)))
            np.savez_compressed(
                os.path.join(d, "g%03d.npz" % i), node_feat=g["feat"],
                node_opcode=np.array([OPCODES[o][0] for o in g["ops"]], np.uint8),
                edge_index=g["edges"], node_config_ids=g["configurable"].astype(np.int64),
                node_config_feat=configs, config_runtime=np.round(runtime * 1e6).astype(np.int64))
            if split == "valid":
                ceiling.append(kendall_tau(cost, runtime))
                oracle.append(kendall_tau(simple, runtime))
    print("independent layout cost family: noise ceiling tau %.3f, oracle tau %.3f "
          "(without copies; valid, %d graphs)" % (np.mean(ceiling), np.mean(oracle), len(ceiling)))


if __name__ == "__main__":
    main()
