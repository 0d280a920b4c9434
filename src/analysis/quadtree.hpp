// A 2-D quadtree for the Barnes–Hut approximation of t-SNE's repulsive forces (tsne.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace cellvae::analysis::detail {

/// The tree over points given as interleaved (x, y) pairs. Each node is a square cell holding
/// the count and centre of mass of its points; children are the non-empty quadrants, stored
/// contiguously. A leaf holds one point, or several that coincide (or that still share a cell
/// after kMaxDepth halvings); its points are visited one by one.
class QuadTree {
 public:
  /// Rebuilds the tree over `n` points at `xy` (2n values).
  void build(const double* xy, std::int64_t n) {
    xy_ = xy;
    nodes_.clear();
    order_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order_[i] = static_cast<std::int32_t>(i);
    scratch_.resize(order_.size());
    if (n == 0) return;
    double lo[2] = {xy[0], xy[1]}, hi[2] = {xy[0], xy[1]};
    for (std::int64_t i = 1; i < n; ++i)
      for (int c = 0; c < 2; ++c) {
        lo[c] = std::min(lo[c], xy[2 * i + c]);
        hi[c] = std::max(hi[c], xy[2 * i + c]);
      }
    // A square root cell, slightly larger than the points so none sits on its far edge.
    const double side = std::max({hi[0] - lo[0], hi[1] - lo[1], 1e-12}) * (1 + 1e-9);
    nodes_.push_back({});
    fill(0, lo[0], lo[1], side, 0, static_cast<std::int32_t>(n), 0);
  }

  /// The points in tree order (depth first): neighbouring points are close in this order, so
  /// visiting them in it reuses the cached nodes of the previous point.
  const std::vector<std::int32_t>& order() const { return order_; }

  /// For point `i`: returns the (approximate) sum over j != i of q_ij = 1 / (1 + |y_i - y_j|^2)
  /// and adds sum_j q_ij^2 (y_i - y_j) to (fx, fy). A cell is summarised by its centre of mass
  /// when side^2 < theta^2 d^2 and y_i lies outside it; theta2 = 0 visits every point.
  double repulsion(std::int64_t i, double theta2, double& fx, double& fy) const {
    const double px = xy_[2 * i], py = xy_[2 * i + 1];
    double z = 0;
    std::array<std::int32_t, 4 * kMaxDepth + 8> stack;
    std::size_t top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const Node& node = nodes_[stack[--top]];
      if (node.n_children == 0) {
        for (std::int32_t t = node.begin; t < node.end; ++t) {
          const std::int32_t j = order_[t];
          if (j == i) continue;
          const double dx = px - xy_[2 * j], dy = py - xy_[2 * j + 1];
          const double q = 1 / (1 + dx * dx + dy * dy);
          z += q;
          fx += q * q * dx;
          fy += q * q * dy;
        }
        continue;
      }
      const double dx = px - node.cx, dy = py - node.cy;
      const double d2 = dx * dx + dy * dy;
      const bool inside =
          px >= node.x0 && px <= node.x0 + node.side && py >= node.y0 && py <= node.y0 + node.side;
      if (!inside && node.side * node.side < theta2 * d2) {
        const double q = 1 / (1 + d2);
        const double count = node.end - node.begin;
        z += count * q;
        fx += count * q * q * dx;
        fy += count * q * q * dy;
        continue;
      }
      for (std::int32_t c = 0; c < node.n_children; ++c) stack[top++] = node.first_child + c;
    }
    return z;
  }

 private:
  // Deep enough for points 2^-48 of the spread apart; beyond that they are treated as a group.
  static constexpr int kMaxDepth = 48;

  struct Node {
    double x0 = 0, y0 = 0, side = 0;  ///< the cell: [x0, x0 + side] x [y0, y0 + side]
    double cx = 0, cy = 0;            ///< centre of mass of its points
    std::int32_t begin = 0, end = 0;  ///< its points: order_[begin, end)
    std::int32_t first_child = 0, n_children = 0;
  };

  /// Fills node `id` with the points order_[begin, end) in the given cell, then its children.
  void fill(std::size_t id, double x0, double y0, double side, std::int32_t begin, std::int32_t end,
            int depth) {
    double sx = 0, sy = 0;
    double lo[2] = {xy_[2 * order_[begin]], xy_[2 * order_[begin] + 1]}, hi[2] = {lo[0], lo[1]};
    for (std::int32_t t = begin; t < end; ++t) {
      const double* p = xy_ + 2 * order_[t];
      sx += p[0];
      sy += p[1];
      lo[0] = std::min(lo[0], p[0]);
      lo[1] = std::min(lo[1], p[1]);
      hi[0] = std::max(hi[0], p[0]);
      hi[1] = std::max(hi[1], p[1]);
    }
    const double count = end - begin;
    Node node;
    node.x0 = x0;
    node.y0 = y0;
    node.side = side;
    node.cx = sx / count;
    node.cy = sy / count;
    node.begin = begin;
    node.end = end;
    const bool coincide = lo[0] == hi[0] && lo[1] == hi[1];
    if (end - begin <= 1 || coincide || depth >= kMaxDepth) {
      nodes_[id] = node;
      return;
    }
    // Counting sort of the points into quadrants 0..3 (bit 0: right half, bit 1: upper half).
    const double half = side / 2, mx = x0 + half, my = y0 + half;
    auto quadrant = [&](std::int32_t p) {
      return (xy_[2 * p] >= mx ? 1 : 0) + (xy_[2 * p + 1] >= my ? 2 : 0);
    };
    std::array<std::int32_t, 5> start{};
    for (std::int32_t t = begin; t < end; ++t) ++start[quadrant(order_[t]) + 1];
    for (int q = 0; q < 4; ++q) start[q + 1] += start[q];
    std::array<std::int32_t, 4> next{start[0], start[1], start[2], start[3]};
    for (std::int32_t t = begin; t < end; ++t) {
      const std::int32_t p = order_[t];
      scratch_[begin + next[quadrant(p)]++] = p;
    }
    std::copy(scratch_.begin() + begin, scratch_.begin() + end, order_.begin() + begin);
    node.first_child = static_cast<std::int32_t>(nodes_.size());
    for (int q = 0; q < 4; ++q)
      if (start[q + 1] > start[q]) ++node.n_children;
    nodes_[id] = node;
    nodes_.resize(nodes_.size() + static_cast<std::size_t>(node.n_children));
    std::size_t child = static_cast<std::size_t>(node.first_child);
    for (int q = 0; q < 4; ++q) {
      if (start[q + 1] == start[q]) continue;
      fill(child++, (q & 1) ? mx : x0, (q & 2) ? my : y0, half, begin + start[q],
           begin + start[q + 1], depth + 1);
    }
  }

  const double* xy_ = nullptr;
  std::vector<Node> nodes_;
  std::vector<std::int32_t> order_, scratch_;
};

}  // namespace cellvae::analysis::detail
