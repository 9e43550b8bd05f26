// The whole nn layer in one include: Module, layers, Sequential, the functional API, initializers,
// losses, metrics.
#pragma once

#include "nn/activations.h"
#include "nn/conv_layers.h"
#include "nn/embedding.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/losses.h"
#include "nn/metrics.h"
#include "nn/module.h"
#include "nn/recurrent.h"
#include "nn/sequential.h"
