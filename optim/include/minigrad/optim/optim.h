#pragma once
// Optimizers, learning-rate schedulers and gradient clipping over lists of Tensors.
#include <minigrad/optim/adam.h>
#include <minigrad/optim/clip.h>
#include <minigrad/optim/momentum.h>
#include <minigrad/optim/optimizer.h>
#include <minigrad/optim/rmsprop.h>
#include <minigrad/optim/scheduler.h>
#include <minigrad/optim/sgd.h>
