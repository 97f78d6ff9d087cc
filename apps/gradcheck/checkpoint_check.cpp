#include "checkpoint_check.h"

#include <algorithm>

#include "train.h"

namespace gradcheck_tool {

CheckpointCheck check_checkpoint(const std::string& path, const std::string& data_dir, int64_t batch,
                                 const RunOptions& run) {
  if (batch <= 0) throw mg::Error(fmt::format("--batch {} must be positive", batch));
  fashion::LoadedModel loaded = fashion::load_checkpoint(path);
  CheckpointCheck check;
  std::shared_ptr<nn::Sequential> model = loaded.model;
  const auto params = model->parameters();
  if (std::any_of(params.begin(), params.end(), [](const mg::Tensor& p) { return p.dtype() != mg::kFloat64; })) {
    model = to_float64(*loaded.model);
    check.warning = fmt::format("warning: {} holds float32 parameters; checking a float64 copy of them (float32 "
                                "finite differences are too coarse to trust)",
                                path);
  }
  model->eval();
  const std::string dir = mg::data::find_fashion_mnist(data_dir.empty() ? loaded.config.data : data_dir);
  mg::data::Dataset images = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Test).head(batch);
  fashion::normalize(images, loaded.config, loaded.standardization);
  const LossFn loss = loss_by_name("cross_entropy", images.labels, loaded.config.label_smoothing);
  check.result = check_model(*model, images.images, loss, run, "ckpt", path,
                             fmt::format("784-{}-10 {}, {} test images", fmt::join(loaded.config.hidden, "-"),
                                         loaded.config.activation, images.size()));
  return check;
}

}  // namespace gradcheck_tool
