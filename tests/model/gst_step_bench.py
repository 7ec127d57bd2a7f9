"""The GST training/eval step of gst's cost model written as plain idiomatic PyTorch.

The baseline for tests/model/gst_step_bench.cpp: the same model, loss and optimizer on the same
batch (written by `gst_step_bench --dump-npz`), but each segment is replicated once per sampled
config, as a disjoint union of B x K graphs, the way the GST paper's reference code batches it.
Runs with Debian's python3 (numpy, torch); prints a table like the C++ bench and one JSON line
per measurement. --precision bf16 runs the same step under torch.autocast("cpu", bfloat16), as a
PyTorch user would reach for mixed precision (fp32 weights and Adam state, the loss in fp32).
"""
import argparse
import contextlib
import ctypes
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_OPCODES = 120
OPCODE_DIM = 32
CONFIG_DIM = 18
CONSTANT_STD = np.float32(1e-6)  # feature columns with a smaller std are dropped, as in gst
LOG_SCALE = 0.125  # log1p inputs are scaled by this, as in gst
STANDARD_CLIP = 8.0  # standardized inputs are clipped to +-this, as in gst
MARGIN = 0.1  # pairwise hinge margin, gst's default


def shared_dropout(x, p, copies, training):
    """Dropout with one mask per node shared by its K copies ([K*N, W] input).

    gst's step draws masks per node so that the configs compared by the ranking loss see the same
    thinned network; doing the same here keeps the two steps the same computation.
    """
    if not training or p <= 0:
        return x
    n, width = x.shape[0] // copies, x.shape[1]
    mask = torch.empty(n, width).bernoulli_(1 - p) / (1 - p)
    return (x.view(copies, n, width) * mask).view(-1, width)


class SageLayer(nn.Module):
    """h' = PReLU(LayerNorm(W_self h + W_in mean_in(h) + W_out mean_out(h))), dropout, residual."""

    def __init__(self, width_in, width_out, dropout):
        super().__init__()
        self.lin_self = nn.Linear(width_in, width_out)
        self.lin_in = nn.Linear(width_in, width_out, bias=False)
        self.lin_out = nn.Linear(width_in, width_out, bias=False)
        self.norm = nn.LayerNorm(width_out)
        self.act = nn.PReLU(width_out, init=0.25)
        self.dropout = dropout
        self.residual = width_in == width_out

    def forward(self, h, graph, copies):
        src, dst, inv_deg_in, inv_deg_out = graph
        mean_in = torch.zeros_like(h).index_add_(0, dst, h[src]) * inv_deg_in
        mean_out = torch.zeros_like(h).index_add_(0, src, h[dst]) * inv_deg_out
        z = self.lin_self(h) + self.lin_in(mean_in) + self.lin_out(mean_out)
        # LayerNorm in float32 (as gst does; torch 1.13 autocast leaves it to the input type).
        x = shared_dropout(self.act(self.norm(z.float())), self.dropout, copies, self.training)
        return h + x if self.residual else x


class CostModel(nn.Module):
    def __init__(self, feature_mean, feature_std, hidden, projection, layers, head_hidden, dropout):
        super().__init__()
        kept = np.flatnonzero(feature_std > CONSTANT_STD)
        self.register_buffer("kept", torch.from_numpy(kept))
        self.register_buffer("feat_mean", torch.from_numpy(feature_mean[kept]))
        inv_std = (1.0 / feature_std[kept].astype(np.float64)).astype(np.float32)
        self.register_buffer("feat_inv_std", torch.from_numpy(inv_std))
        self.opcode_embedding = nn.Embedding(NUM_OPCODES, OPCODE_DIM)
        # Node inputs (opcode, standardized and log features, log segment size) and the node's
        # config features, projected together.
        self.input = nn.Linear(OPCODE_DIM + 2 * len(kept) + 1 + CONFIG_DIM, projection)
        self.input_act = nn.PReLU(projection, init=0.25)
        widths = [projection] + [hidden] * layers
        self.layers = nn.ModuleList(
            SageLayer(widths[i], widths[i + 1], dropout) for i in range(layers))
        self.head = nn.Sequential(
            nn.LayerNorm(2 * widths[-1]),
            nn.Linear(2 * widths[-1], head_hidden), nn.PReLU(head_hidden, init=0.25),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, head_hidden), nn.PReLU(head_hidden, init=0.25),
            nn.Linear(head_hidden, 1, bias=False))
        self.dropout = dropout

    def forward(self, batch):
        """Scores [B, K] of the B segments (one graph each) under their K configs."""
        n = batch["node_feat"].shape[0]
        b, k = batch["num_segments"], batch["num_configs"]
        raw = batch["node_feat"][:, self.kept]
        feat = ((raw - self.feat_mean) * self.feat_inv_std).clamp(-STANDARD_CLIP, STANDARD_CLIP)
        logs = torch.sign(raw) * torch.log1p(raw.abs()) * LOG_SCALE
        sizes = torch.tensor(batch["segment_sizes"])
        count = (torch.log1p(sizes.float()) * LOG_SCALE).repeat_interleave(sizes).unsqueeze(1)
        x = torch.cat([self.opcode_embedding(batch["node_opcode"]), feat, logs, count], 1)

        # Replicate: copy c of every node carries config c's features (zeros on fixed nodes).
        config = torch.zeros(k, n, CONFIG_DIM)
        config[:, batch["config_nodes"]] = batch["config_feat"]
        x = torch.cat([x.expand(k, -1, -1), config], 2).reshape(k * n, -1)  # [K*N, F + 18]
        shift = (torch.arange(k) * n).unsqueeze(1)
        src = (batch["edges"][0] + shift).reshape(-1)
        dst = (batch["edges"][1] + shift).reshape(-1)
        ones = torch.ones(src.shape[0])
        inv_deg_in = 1 / torch.zeros(k * n).index_add_(0, dst, ones).clamp_min(1).unsqueeze(1)
        inv_deg_out = 1 / torch.zeros(k * n).index_add_(0, src, ones).clamp_min(1).unsqueeze(1)
        graph = (src, dst, inv_deg_in, inv_deg_out)

        h = shared_dropout(self.input_act(self.input(x)), self.dropout, k, self.training)
        for layer in self.layers:
            h = layer(h, graph, k)

        # Mean + max pooling per graph: copy c of segment s is a contiguous node range of h.
        # (torch.scatter_reduce by graph id, the general form, is several times slower to
        # differentiate in torch 1.13; contiguous ranges are what gst's replicated path uses too.)
        pooled = [torch.cat([nodes.mean(1), nodes.amax(1)], 1)
                  for nodes in h.view(k, n, -1).split(batch["segment_sizes"], 1)]
        x = torch.stack(pooled).view(b * k, -1)  # graph s*K + c
        return self.head(x).view(b, k)


def pairwise_hinge_loss(scores, runtimes, margin=MARGIN):
    """Mean over pairs with runtime_i > runtime_j of max(0, margin - (s_i - s_j)), per graph."""
    pairs = runtimes.unsqueeze(2) > runtimes.unsqueeze(1)
    hinge = F.relu(margin - (scores.unsqueeze(2) - scores.unsqueeze(1))) * pairs
    count = pairs.sum((1, 2))
    per_graph = hinge.sum((1, 2)) / count.clamp_min(1)
    return per_graph[count > 0].mean()


def gst_parameters(z, layers):
    """gst's initial weights from the npz, keyed by this model's parameter names."""
    g = {key[len("param."):]: torch.from_numpy(z[key]) for key in z.files
         if key.startswith("param.")}
    out = {
        "opcode_embedding.weight": g["opcode_embedding.weight"],
        "input.weight": torch.cat([g["input_node.weight"], g["input_config.weight"]], 1),
        "input.bias": g["input_node.bias"],
        "input_act.weight": g["input_prelu"],
    }
    for i in range(layers):
        ours, theirs = f"layers.{i}.", f"layer{i}_"
        for a, b in [("lin_self.weight", "self.weight"), ("lin_self.bias", "self.bias"),
                     ("lin_in.weight", "in.weight"), ("lin_out.weight", "out.weight"),
                     ("norm.weight", "norm.weight"), ("norm.bias", "norm.bias"),
                     ("act.weight", "prelu")]:
            out[ours + a] = g[theirs + b]
    for i, name in [(0, "head_norm"), (1, "head_in"), (4, "head_mid"), (6, "head_out")]:
        out[f"head.{i}.weight"] = g[name + ".weight"]
        if name != "head_out":  # the score layer has no bias (ranking losses ignore shifts)
            out[f"head.{i}.bias"] = g[name + ".bias"]
    out["head.2.weight"] = g["head_prelu_in"]
    out["head.5.weight"] = g["head_prelu_mid"]
    return out


def load(path):
    z = np.load(path)
    offsets = torch.from_numpy(z["segment_offsets"])
    sizes = offsets[1:] - offsets[:-1]
    batch = {
        "node_feat": torch.from_numpy(z["node_feat"]),
        "node_opcode": torch.from_numpy(z["node_opcode"]),
        "edges": torch.from_numpy(z["edges"]),
        "segment_sizes": sizes.tolist(),
        "config_nodes": torch.from_numpy(z["config_nodes"]),
        "config_feat": torch.from_numpy(z["config_feat"]),  # [K, M, 18]
        "num_segments": len(sizes),
        "num_configs": z["config_feat"].shape[0],
    }
    return z, batch, torch.from_numpy(z["runtimes"])


def keep_freed_memory():
    """What gst does at start (common/heap_policy.h): no fresh mmap per large tensor, no trimming."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_max = -1, -4
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, -1)  # -1: never (2**31 - 1 still trims past 2 GiB free)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", required=True, help="batch written by gst_step_bench --dump-npz")
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma separated")
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--eval-steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--precision", default="fp32",
                        help="fp32 and/or bf16 (torch.autocast on the CPU), comma separated")
    parser.add_argument("--system-malloc", action="store_true",
                        help="keep glibc's default of returning large blocks to the kernel")
    args = parser.parse_args()
    if not args.system_malloc:
        keep_freed_memory()

    z, batch, runtimes = load(args.npz)
    torch.manual_seed(1)
    model = CostModel(z["feature_mean"], z["feature_std"], int(z["hidden"][0]),
                      int(z["projection"][0]), int(z["layers"][0]), int(z["head_hidden"][0]),
                      float(z["dropout"][0]))
    parameters = sum(p.numel() for p in model.parameters())
    expected = int(z["num_parameters"][0])
    if parameters != expected:
        raise SystemExit(f"FAIL: {parameters} parameters, gst_step_bench's model has {expected}")
    # Start from gst's weights and check the eval scores agree: the same model on the same batch.
    loaded = model.load_state_dict(gst_parameters(z, len(model.layers)), strict=False)
    buffers = {name for name, _ in model.named_buffers()}
    if set(loaded.missing_keys) != buffers or loaded.unexpected_keys:
        raise SystemExit(f"FAIL: parameters not matched to gst's: {loaded}")
    model.eval()
    with torch.no_grad():
        scores = model(batch)
    gst_scores = torch.from_numpy(z["eval_scores"])
    difference = ((scores - gst_scores).norm() / gst_scores.norm()).item()
    print(f"eval scores vs gst_step_bench: relative L2 difference {difference:.1e}")
    if not difference < 1e-4:
        raise SystemExit("FAIL: the eval scores differ from gst_step_bench's")
    adam = torch.optim.Adam(model.parameters(), lr=float(z["lr"][0]))
    b, k = batch["num_segments"], batch["num_configs"]
    print(f"batch: {b} graphs x 1 segment, {batch['node_feat'].shape[0]} nodes, "
          f"{batch['edges'].shape[1]} edges, {k} configs/graph, "
          f"{batch['config_nodes'].shape[0]} configurable nodes; parameters: {parameters}")

    precision = "fp32"

    def autocast():
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step():
        model.train()
        adam.zero_grad()
        with autocast():
            scores = model(batch)
        loss = pairwise_hinge_loss(scores.float(), runtimes)
        loss.backward()
        adam.step()
        return loss.item()

    def eval_step():
        model.eval()
        with torch.no_grad(), autocast():
            model(batch)

    first_loss = train_step()  # step 1: the model must compute something meaningful
    if not math.isfinite(first_loss):
        raise SystemExit(f"FAIL: loss {first_loss} on the first training step")
    print(f"first training step loss {first_loss:.4f}")

    print(f"{'phase':6} {'threads':7} {'path':17} {'precision':9} {'graph-cfg/s':>12} "
          f"{'segments/s':>12} {'ms/step':>10} {'cpu-ms/step':>12}", flush=True)
    results = []
    for threads, precision, (phase, step, steps) in [
            (int(t), p, s) for t in args.threads.split(",") for p in args.precision.split(",")
            for s in [("train", train_step, args.train_steps), ("eval", eval_step, args.eval_steps)]]:
        torch.set_num_threads(threads)
        for _ in range(args.warmup):
            step()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            loss = step()
            if phase == "train" and not math.isfinite(loss):
                raise SystemExit(f"FAIL: loss {loss} in a timed training step")
        per_step = (time.perf_counter() - wall) / steps
        cpu_per_step = (time.process_time() - cpu) / steps
        row = {"phase": phase, "threads": threads, "path": "python-replicated",
               "precision": precision,
               "graph_configs": b * k, "graph_configs_per_s": b * k / per_step,
               "segments_per_s": b / per_step,
               "ms_per_step": 1000 * per_step, "cpu_ms_per_step": 1000 * cpu_per_step}
        results.append(row)
        print(f"{phase:6} {threads:<7} {'python-replicated':17} {precision:9} "
              f"{row['graph_configs_per_s']:12.0f} {row['segments_per_s']:12.2f} "
              f"{row['ms_per_step']:10.1f} {row['cpu_ms_per_step']:12.1f}", flush=True)
    for row in results:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
