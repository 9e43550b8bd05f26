// nabla: the one header users include.
#pragma once

#include "autograd/function.h"
#include "autograd/grad.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/format.h"
#include "tensor/io/safetensors.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

// Layers above autograd.
#include "data/dataset.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/mnist.h"
#include "data/transforms.h"
#include "nn/nn.h"
#include "nn/serialization.h"
#include "optim/optim.h"
#include "train/callbacks.h"
#include "train/history.h"
#include "train/model.h"
#include "train/plot.h"
#include "train/progress.h"

// Data-parallel training over MPI: present when nabla was built with MPI (NABLA_HAS_DIST).
#if __has_include("dist/dist.h")
#include "dist/data_parallel.h"
#include "dist/dist.h"
#endif
