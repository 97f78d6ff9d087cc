// minigrad/data/data.h - the whole data layer: readers, Dataset, transforms, DataLoader.
#pragma once

#include <minigrad/data/csv.h>
#include <minigrad/data/dataset.h>
#include <minigrad/data/error.h>
#include <minigrad/data/fashion_mnist.h>
#include <minigrad/data/idx.h>
#include <minigrad/data/loader.h>
#include <minigrad/data/transforms.h>
