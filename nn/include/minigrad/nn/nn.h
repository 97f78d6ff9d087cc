#pragma once
// minigrad::nn: modules, layers, losses, init and checkpoints.
#include <minigrad/nn/activation.h>
#include <minigrad/nn/attention.h>
#include <minigrad/nn/batch_norm.h>
#include <minigrad/nn/checkpoint.h>
#include <minigrad/nn/containers.h>
#include <minigrad/nn/conv.h>
#include <minigrad/nn/dropout.h>
#include <minigrad/nn/embedding.h>
#include <minigrad/nn/init.h>
#include <minigrad/nn/layer_norm.h>
#include <minigrad/nn/linear.h>
#include <minigrad/nn/loss.h>
#include <minigrad/nn/module.h>
#include <minigrad/nn/rnn.h>
#include <minigrad/nn/sequential.h>
