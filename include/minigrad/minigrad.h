#pragma once
// Everything a model needs: #include <minigrad/minigrad.h> and `namespace mg = minigrad;`.
#include <minigrad/allocator.h>
#include <minigrad/autograd.h>
#include <minigrad/conv.h>
#include <minigrad/data/data.h>
#include <minigrad/gradcheck.h>
#include <minigrad/io.h>
#include <minigrad/layer_ops.h>
#include <minigrad/nn/nn.h>
#include <minigrad/optim/optim.h>
#include <minigrad/random.h>
#include <minigrad/tensor.h>
#include <minigrad/threads.h>
