// The learned cost model: GraphSAGE over segments, mean+max readout, MLP head scoring configs.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/graph.h"
#include "model/aggregation.h"
#include "model/column_encoding.h"
#include "model/model_config.h"
#include "model/precision.h"
#include "model/segment_batch.h"

namespace gst {

// Scores rank like runtimes: a higher score means a predicted slower config.
class CostModelImpl : public torch::nn::Module {
 public:
  // node_columns: [140] node-feature statistics of the train split (manifest), columns with std
  // ~ 0 are dropped; config_columns: [18] layout or [24] tile config statistics (may be empty:
  // then config columns are not one-hot encoded).
  CostModelImpl(const ModelConfig& config, Task task, const ColumnStats& node_columns,
                const ColumnStats& config_columns);

  // Segment embeddings: [B_seg, K, D]; tile with configs at the head only: [B_seg, 1, D]
  // (config-independent).
  // Shares all config-independent work across the K configs: only nodes within l hops of a
  // configurable node are computed per config at layer l.
  torch::Tensor segment_embeddings(const SegmentBatch& batch);
  // The same result computed by replicating each segment K times (reference for tests/bench).
  torch::Tensor segment_embeddings_replicated(const SegmentBatch& batch);

  // graph_emb: [G, K, D] -> scores [G, K]. tile_config: [G, K, 24] raw tile features for tile
  // (joined at the head), undefined for layout.
  torch::Tensor head(const torch::Tensor& graph_emb, const torch::Tensor& tile_config);

  // D = 2 * hidden (mean and max pooling), 3 * hidden + 1 with model.size_pooling (a size-weighted
  // sum and the total weight), + (C + 1) S with model.column_pooling (S size columns: C costs
  // summed with each as weight, model.cost_channels, and each column's total).
  int64_t embedding_dim() const;
  // Size-column weights of the nodes [N, S] (undefined without model.column_pooling): their own
  // size columns, then with model.operand_sizes (and message passing) the same summed over their
  // producers.
  torch::Tensor column_weights(const SegmentBatch& batch) const;
  int64_t weight_columns() const;  // S
  // Whether configs enter the backbone (layout; tile with model.tile_join early): then segment
  // batches carry K configs and segment embeddings differ per config.
  bool configs_at_nodes() const;
  std::vector<torch::Tensor> backbone_parameters();
  std::vector<torch::Tensor> head_parameters();
  const ModelConfig& config() const { return config_; }
  // Precision of the backbone's matrix products (model/precision.h); fp32 by default. Outputs,
  // parameters and gradients stay in the parameters' dtype either way.
  void set_precision(Precision precision) { precision_ = precision; }
  Precision precision() const { return precision_; }
  Task task() const { return task_; }

 private:
  struct Plan;  // which nodes and edges run per config at each layer (cost_model.cpp)
  struct Edges {
    torch::Tensor src, dst;                 // [E] node ids
    torch::Tensor inv_deg_in, inv_deg_out;  // [N, 1] 1 / max(1, degree)
    // The same as sparse matrices (identity, in- and out-neighbour means); when set, a layer
    // runs as one fused aggregation (model/aggregation.h) instead of index_select/index_add_.
    SparseRows self, in, out;
  };

  // m(x) with the matrix product in the compute precision: the result in matmul dtype (`low`) or
  // in x's dtype.
  torch::Tensor linear_low(const torch::nn::Linear& m, const torch::Tensor& x, bool bias) const;
  // m(x) from x's product rows (product_rows in cost_model.cpp, shared by several products of
  // one x), in their dtype and x's shape [..., out].
  torch::Tensor product(const torch::nn::Linear& m, const torch::Tensor& rows,
                        const torch::Tensor& x, bool bias) const;
  torch::Tensor linear_as(const torch::nn::Linear& m, const torch::Tensor& x) const;

  // Opcode embedding, standardized and log features, one-hot coded columns and segment size:
  // [N, 140] -> [N, node input width].
  torch::Tensor node_inputs(const SegmentBatch& batch);
  // Config inputs of the batch's M configurable nodes, in its order: [K, M, config input width].
  torch::Tensor config_inputs(const SegmentBatch& batch) const;
  int64_t config_input_width() const;
  int64_t layout_coded_width() const;  // layout config inputs besides raw values (0: raw)
  // Tile sizes as model inputs: signed logs and one-hot slots of the coded columns, [..., 24] ->
  // [..., 24 + slots].
  torch::Tensor tile_inputs(const torch::Tensor& config) const;
  // Size-aware pooling weights e^{a_i} of the nodes, a_i learned from node inputs x [N, W]: [N]
  // (undefined without model.size_pooling).
  torch::Tensor pool_weights(const torch::Tensor& x);
  // Column pooling: each node's C costs of its config effect [..., H] -> [..., C], plus the
  // direct term of its config inputs [..., C] where defined (model.direct_costs).
  torch::Tensor node_costs(const torch::Tensor& effect, const torch::Tensor& direct);
  // g of model.node_cost, elementwise: a cost from its linear pre-activation.
  torch::Tensor cost_of(const torch::Tensor& x) const;
  // model.operand_copies: per segment, the C costs of its edges into configurable nodes
  // (OperandCopy) summed with their producers' column weights (columns [N, S]): [B, K, C S];
  // undefined when off.
  torch::Tensor copy_sums(const SegmentBatch& batch, const torch::Tensor& columns);
  // model.direct_costs: the config inputs [n_0, K, W] of R_0 mapped into the rows of R_L,
  // [n_L, K, C] (zero on rows without a config); undefined when off.
  torch::Tensor direct_costs(const Plan& plan, const torch::Tensor& config);
  // The direct map's C costs of config inputs [..., W] -> [..., C], times model.cost_map_scale.
  torch::Tensor direct_map(const torch::Tensor& config);
  bool weights_operands() const;
  // Each cost channel summed with each size column as weight: [n, K, C] x [n, S] -> [K, C S].
  static torch::Tensor channel_sums(const torch::Tensor& costs, const torch::Tensor& columns);
  // channel_sums of each run of `sizes` consecutive rows: [n, K, C] x [n, S] -> [B, K, C S].
  static torch::Tensor run_channel_sums(const torch::Tensor& costs, const torch::Tensor& columns,
                                        const std::vector<int64_t>& sizes);
  // Width of the column pooling part of a segment embedding: (C + 1) S.
  int64_t column_pooling_width() const;
  // Per segment of `offsets`, the totals of column weights w [N, S]: [B, S].
  static torch::Tensor column_totals(const torch::Tensor& w, const std::vector<int64_t>& offsets);
  // Inverted-dropout mask [rows, width] (undefined in eval mode or without dropout).
  torch::Tensor dropout_mask(int64_t rows, int64_t width, const torch::TensorOptions& options);
  // Activation (and norm) then the mask, for inputs [..., W] with a mask broadcastable to them.
  torch::Tensor input_post(const torch::Tensor& z, const torch::Tensor& mask);
  torch::Tensor layer_post(int layer, const torch::Tensor& z, const torch::Tensor& mask);
  // The pre-activation of one SAGE layer over a whole edge list: h [R, H_in] -> [R, H_out].
  torch::Tensor layer_pre(int layer, const torch::Tensor& h, const Edges& edges);
  // The same layer after activation and mask, residual excluded.
  torch::Tensor layer_full(int layer, const torch::Tensor& h, const Edges& edges,
                           const torch::Tensor& mask);

  // The stages of segment_embeddings. s: the states every config shares [N, H]; d: the configs'
  // effect on the rows of R_l [n_l, K, H] (zero on every other node).
  struct States {
    torch::Tensor s, d;
    torch::Tensor d_low;  // d in bf16 where an inference pass wrote it (else undefined)
  };
  // The terms of layer `layer`'s per-config pre-activation on R_l: zs [N, H] (shared) plus W d
  // scattered along the plan's edges, [n_l, K, H] once aggregated.
  // x: the per-config states d of R_{l-1} in the matmul dtype, [n_{l-1}, K', H_in] (K' configs).
  std::vector<AggregationTerm> delta_terms(int layer, const Plan& plan, const torch::Tensor& zs,
                                           const torch::Tensor& x) const;
  // A batch without configurable nodes: s through every layer, pooled once for all K configs.
  // weight: learned size weights [N]; columns: column weights [N, S] (either may be undefined).
  torch::Tensor unconfigured_embeddings(const SegmentBatch& batch, const Plan& plan,
                                        torch::Tensor s, const torch::Tensor& weight,
                                        const torch::Tensor& columns);
  // d at the input: from the input pre-activation z [N, P], its post-activation s, the config
  // inputs [n_0, K, W] and the input dropout mask, the configs' effect on the configurable nodes
  // [n_0, K, P].
  torch::Tensor input_delta(const Plan& plan, const torch::Tensor& z, const torch::Tensor& s,
                            const torch::Tensor& config, const torch::Tensor& mask);
  // One SAGE layer on s (once) and d (per config).
  States layer_step(int layer, const Plan& plan, const States& in, int64_t k);
  // Per segment: mean and max (and the size-weighted sum of d) over its shared nodes, once, and
  // its R_L rows, per config: [B, K, D]. direct: direct_costs; copies: copy_sums, added to the
  // column sums (either may be undefined).
  torch::Tensor readout(const SegmentBatch& batch, const Plan& plan, const States& states,
                        const torch::Tensor& weight, const torch::Tensor& columns,
                        const torch::Tensor& direct, const torch::Tensor& copies);
  bool residual(int layer) const;
  int64_t layer_width(int layer) const;  // H_in of layer `layer`; layer_width(layers) = hidden

  ModelConfig config_;
  Task task_;
  Precision precision_ = Precision::Fp32;
  torch::Tensor kept_columns_;        // [F'] int64, CPU: the non-constant feature columns
  torch::Tensor feat_mean_;           // [F'] buffer
  torch::Tensor feat_inv_std_;        // [F'] buffer
  OneHotColumns node_onehot_;         // coded node columns (empty unless model.categorical)
  OneHotColumns config_onehot_;       // coded layout slots or tile columns (likewise)
  ConfigMatch config_match_;          // layout (empty unless model.config_match)
  NeighbourMatch neighbour_match_;    // layout (empty unless model.neighbour_match)
  DimFit dim_fit_;                    // layout (empty unless model.dim_fit)
  LayoutAgreement layout_agreement_;  // layout (empty unless model.layout_agreement)
  OperandCopy operand_copy_;          // layout (empty unless model.operand_copies)
  TileFit tile_fit_;                  // tile at the nodes (empty unless model.tile_fit)
  TileAlign tile_align_;              // tile at the nodes (empty unless model.tile_align)
  SizeWeights size_weights_;          // configs at the nodes (empty unless model.column_pooling)
  torch::nn::Embedding opcode_embedding_{nullptr};
  torch::nn::Linear input_node_{nullptr};    // [opcode_dim + F'] -> projection, with bias
  torch::nn::Linear input_config_{nullptr};  // config inputs -> projection, no bias
  torch::Tensor input_prelu_;                // [projection]
  // SAGE weights per layer: self term (with the layer's bias), in- and out-neighbour means.
  std::vector<torch::nn::Linear> layer_self_, layer_in_, layer_out_;
  std::vector<torch::nn::LayerNorm> layer_norm_;  // empty when norm = none
  std::vector<torch::Tensor> layer_prelu_;        // [H_out]
  torch::nn::Linear pool_gate_{nullptr};          // node inputs -> a_i (size_pooling)
  torch::nn::Linear pool_cost_{nullptr};     // config effect -> a node's C costs (column_pooling)
  torch::nn::Linear pool_direct_{nullptr};   // config inputs -> the same C costs (direct_costs)
  torch::nn::Linear pool_copy_{nullptr};     // operand copy flags -> an edge's C costs
  torch::nn::LayerNorm head_norm_{nullptr};  // null when norm = none
  torch::nn::Linear head_in_{nullptr}, head_mid_{nullptr}, head_out_{nullptr};
  // Size pooling with configs at the nodes: a linear cost per node state, summed by size weight
  // over the graph and divided by its total weight (a per-graph constant, so the config order is
  // exact).
  torch::nn::Linear head_sum_{nullptr};
  // column_pooling: the per-node costs averaged with each size column as weight, mixed linearly.
  torch::nn::Linear head_columns_{nullptr};
  torch::Tensor head_prelu_in_, head_prelu_mid_;  // [head_hidden]
};
TORCH_MODULE(CostModel);

}  // namespace gst
