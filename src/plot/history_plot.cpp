// `cellvae plot history`: loss curves per epoch with the restored epoch marked.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cellvae/error.hpp"
#include "cellvae/plot/plots.hpp"

namespace cellvae::plot {

Figure history_figure(const train::History& history, const HistoryPlotOptions& options) {
  if (history.epochs.empty()) throw InputError("the training history has no epochs");
  struct Term {
    const char* title;
    const char* ylabel;
    double train::LossSummary::*field;
  };
  const Term terms[] = {
      {"Total loss", "loss per cell", &train::LossSummary::loss},
      {"Reconstruction", "−log p(x | z) per cell", &train::LossSummary::reconstruction},
      {"KL divergence of z", "KL(q(z | x) ‖ p(z)) per cell", &train::LossSummary::kl_z},
  };
  const Color train_color = category_color(0), validation_color = category_color(1);
  const bool has_validation = std::any_of(history.epochs.begin(), history.epochs.end(),
                                          [](const auto& e) { return e.validation.has_value(); });

  Figure fig(1, 3, 300, 250);
  fig.set_title(options.title);
  std::vector<double> epoch;
  for (const auto& e : history.epochs) epoch.push_back(static_cast<double>(e.epoch));
  for (int p = 0; p < 3; ++p) {
    Axes& ax = fig.axes(0, p);
    ax.set_title(terms[p].title);
    ax.set_xlabel("epoch");
    ax.set_ylabel(terms[p].ylabel);
    std::vector<double> tr, va;
    for (const auto& e : history.epochs) {
      tr.push_back(e.train.*terms[p].field);
      va.push_back(e.validation ? (*e.validation).*terms[p].field
                                : std::numeric_limits<double>::quiet_NaN());
    }
    // A one-epoch history is a single point: markers keep it visible.
    const bool single = epoch.size() == 1;
    ax.line(epoch, tr, LineStyle{train_color, 1.8, Dash::solid}, single ? "" : "train");
    if (single) ax.points(epoch, tr, PointStyle{train_color, 3}, "train");
    if (has_validation) {
      ax.line(epoch, va, LineStyle{validation_color, 1.8, Dash::dashed},
              single ? "" : "validation");
      if (single) ax.points(epoch, va, PointStyle{validation_color, 3}, "validation");
    }
    if (history.best_epoch > 0) {
      std::string text = "best epoch " + std::to_string(history.best_epoch);
      if (history.stopped_early) text += " (early stop)";
      ax.vline(static_cast<double>(history.best_epoch),
               LineStyle{rgb(0x444444), 1.2, Dash::dotted}, text);
    }
  }
  return fig;
}

}  // namespace cellvae::plot
