// Training pictures from the library: a History's curves and a module's weight histograms as SVG
// figures (train/plot.h), as Keras users draw them with matplotlib.
#pragma once

#include <string>

#include "nn/module.h"
#include "train/history.h"
#include "train/plot.h"

namespace nabla::train {

// One panel per logged quantity against the 1-based epoch: "loss" with "val_loss" beside it,
// each metric with its "val_" twin, and "lr" on its own. figure.save("curves.svg") writes it.
// Throws nabla::Error on an empty history.
[[nodiscard]] plot::Figure history_figure(const History& history, const std::string& title = "",
                                          int columns = 2);

// One histogram of `bins` equal-width bins per parameter (and buffer, with `buffers`), titled by
// its state() key, e.g. "0.kernel [784, 512]". Throws nabla::Error on a module with no tensors.
[[nodiscard]] plot::Figure weight_histograms(const nn::Module& module, int bins = 30,
                                             const std::string& title = "", int columns = 2,
                                             bool buffers = false);

}  // namespace nabla::train
