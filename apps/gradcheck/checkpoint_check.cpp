#include "checkpoint_check.h"

#include "arch.h"
#include "train.h"

namespace minigrad::gradcheck_tool {

CheckpointEntry fashion_checkpoint() {
  return {.format = "fashion_mlp", .load = [](const std::string& path, const CheckpointArgs& args) {
            fashion::LoadedModel loaded = fashion::load_checkpoint(path);
            const std::string dir = mg::data::find_fashion_mnist(args.data.empty() ? loaded.config.data : args.data);
            mg::data::Dataset images =
                mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Test).head(args.batch);
            fashion::normalize(images, loaded.config, loaded.standardization);
            // The same model in float64, holding the checkpoint's values (load_state_dict converts).
            std::shared_ptr<nn::Sequential> model = fashion::build_arch(loaded.config, mg::kFloat64);
            model->load_state_dict(loaded.model->state_dict());
            model->train(loaded.model->is_training());
            return SavedModel{
                .model = model,
                .input = images.images,
                .loss = loss_by_name("cross_entropy", images.labels, loaded.config.label_smoothing),
                .label =
                    loaded.config.arch.empty()
                        ? fmt::format("784-{}-10 {}, {} test images", fmt::join(loaded.config.hidden, "-"),
                                      loaded.config.activation, images.size())
                        : fmt::format("arch [{}], {} test images", fmt::join(loaded.config.arch, ", "), images.size())};
          }};
}

}  // namespace minigrad::gradcheck_tool
