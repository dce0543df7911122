"""lthkit.models: the registry of networks, their initialisation and their prunable tensors."""
import math

import pytest
import torch
from torch import nn

from lthkit import models

# Every family in the registry, with an input batch of the shape it takes and its output width.
CASES = {
    "xor_mlp_2": ((4, 2), 1),
    "xor_mlp_10": ((4, 2), 1),
    "lenet_300_100": ((2, 784), 10),
    "conv2": ((2, 3, 32, 32), 10),
    "conv4": ((2, 3, 32, 32), 10),
    "conv6": ((2, 3, 32, 32), 10),
    "cifar_resnet_20": ((2, 3, 32, 32), 10),
    "cifar_resnet_14": ((2, 3, 32, 32), 10),
    "cifar_vgg_11": ((2, 3, 32, 32), 10),
    "cifar_vgg_16": ((2, 3, 32, 32), 10),
}


@pytest.fixture(scope="module")
def built():
    return {name: models.build(name, init_seed=0) for name in CASES}


def test_every_registry_name_builds():
    for name in models.NAMES:
        concrete = name.replace("_H", "_4")
        assert isinstance(models.build(concrete, init_seed=0), nn.Module)


@pytest.mark.parametrize("name", CASES)
def test_forward_shapes(name, built):
    shape, outputs = CASES[name]
    model = built[name].eval()
    with torch.no_grad():
        out = model(torch.randn(shape, generator=torch.Generator().manual_seed(0)))
    if name.startswith("xor"):
        assert out.shape == (shape[0],)  # one logit per point
    else:
        assert out.shape == (shape[0], outputs)
    assert torch.isfinite(out).all()


def test_lenet_accepts_images_as_well_as_vectors(built):
    model = built["lenet_300_100"]
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), model(x.flatten(1)))


@pytest.mark.parametrize("name", CASES)
def test_same_seed_same_weights_other_seed_other_weights(name, built):
    again = models.build(name, init_seed=0).state_dict()
    other = models.build(name, init_seed=1).state_dict()
    reference = built[name].state_dict()
    assert all(torch.equal(reference[k], again[k]) for k in reference)
    assert any(not torch.equal(reference[k], other[k]) for k in models.prunable(built[name]))


def test_build_leaves_the_global_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    models.build("lenet_300_100", init_seed=7)
    assert torch.equal(torch.rand(5), expected)


def test_build_is_independent_of_the_global_seed():
    torch.manual_seed(1)
    a = models.build("conv2", init_seed=3).state_dict()
    torch.manual_seed(2)
    b = models.build("conv2", init_seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", CASES)
def test_prunable_is_exactly_the_linear_and_conv_weights(name, built):
    model = built[name]
    names = models.prunable(model)
    params = dict(model.named_parameters())
    expected = [f"{n}.weight" for n, m in model.named_modules()
                if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert names == expected
    assert all(n in params for n in names)
    assert not any(n.endswith("bias") for n in names)
    norms = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert not norms & set(names)
    # Weight matrices and kernels are the tensors with more than one dimension.
    assert set(names) == {n for n, p in params.items() if p.dim() > 1}


def test_prunable_names_of_lenet(built):
    model = built["lenet_300_100"]
    shapes = [tuple(dict(model.named_parameters())[n].shape) for n in models.prunable(model)]
    assert shapes == [(300, 784), (100, 300), (10, 100)]


def test_resnet_has_batch_norm_that_is_not_prunable(built):
    model = built["cifar_resnet_20"]
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    # 1 stem conv + 9 blocks × 2 convs + 2 projection shortcuts + 1 linear
    assert len(models.prunable(model)) == 1 + 18 + 2 + 1


@pytest.mark.parametrize("name", CASES)
def test_output_layer_is_the_last_prunable_tensor_and_produces_the_outputs(name, built):
    model = built[name]
    output = models.output_layer(model)
    assert output == models.prunable(model)[-1]
    assert dict(model.named_parameters())[output].shape[0] == CASES[name][1]


def _std_close(tensor, expected, rel):
    std = float(tensor.detach().std())
    assert abs(std - expected) / expected < rel, (std, expected)


def test_lenet_and_conv_nets_use_gaussian_glorot_with_zero_biases(built):
    for name in ("lenet_300_100", "conv4"):
        for module in built[name].modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                w = module.weight
                receptive = w[0, 0].numel() if w.dim() > 2 else 1
                fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
                expected = math.sqrt(2.0 / (fan_in + fan_out))
                # tolerance from the sample size: the std's relative error is about 1/sqrt(2n)
                _std_close(w, expected, rel=max(0.03, 5 / math.sqrt(2 * w.numel())))
                assert abs(float(w.detach().mean())) < 5 * expected / math.sqrt(w.numel())
                assert torch.count_nonzero(module.bias) == 0


def test_resnet_and_vgg_use_he_normal_and_unit_batch_norm(built):
    for name in ("cifar_resnet_20", "cifar_vgg_11"):
        for module in built[name].modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)) and module.weight.numel() >= 10_000:
                w = module.weight
                fan_in = w[0].numel()
                _std_close(w, math.sqrt(2.0 / fan_in), rel=max(0.03, 5 / math.sqrt(2 * w.numel())))
            if isinstance(module, nn.BatchNorm2d):
                assert torch.all(module.weight == 1) and torch.all(module.bias == 0)


def test_xor_networks_start_small_and_truncated(built):
    model = built["xor_mlp_10"]
    assert model.fc1.weight.shape == (10, 2) and model.fc2.weight.shape == (1, 10)
    for layer in (model.fc1, model.fc2):
        assert layer.weight.abs().max() <= 0.2 and layer.weight.abs().max() > 0
        assert torch.count_nonzero(layer.bias) == 0


def test_build_records_the_registry_name(built):
    assert built["conv6"].lthkit_name == "conv6"


@pytest.mark.parametrize("bad, named", [("resnet50", "'resnet50'"), ("lenet", "'lenet'"),
                                        ("xor_mlp_", "'xor_mlp_'"), ("cifar_resnet_21", "6n+2"),
                                        ("cifar_vgg_12", "[11, 13, 16, 19]")])
def test_unknown_or_malformed_names_raise(bad, named):
    with pytest.raises(ValueError) as error:
        models.build(bad, init_seed=0)
    assert named in str(error.value)


def test_unknown_name_lists_the_registry():
    with pytest.raises(ValueError) as error:
        models.build("resnet50", init_seed=0)
    for name in models.NAMES:
        assert name in str(error.value)


# --- widths and input shapes -----------------------------------------------------------------

@pytest.mark.parametrize("name, width", [("conv2", 64), ("conv6", 64), ("cifar_resnet_20", 16),
                                         ("cifar_vgg_11", 64)])
def test_the_default_width_is_the_papers(name, width):
    plain = models.build(name, init_seed=0).state_dict()
    suffixed = models.build(f"{name}_{width}", init_seed=0).state_dict()
    assert plain.keys() == suffixed.keys()
    assert all(torch.equal(plain[k], suffixed[k]) for k in plain)


@pytest.mark.parametrize("name, stages", [("conv6_8", [8, 8, 16, 16, 32, 32]),
                                          ("cifar_resnet_14_4", [4] + [4] * 4 + [8] * 5 + [16] * 5),
                                          ("cifar_vgg_11_8", [8, 16, 32, 32, 64, 64, 64, 64])])
def test_the_width_suffix_scales_every_stage(name, stages):
    model = models.build(name, init_seed=0)
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs == stages


def test_conv_net_dense_layers_scale_with_the_width():
    dense = [m.out_features for m in models.build("conv4_16", 0).modules()
             if isinstance(m, nn.Linear)]
    assert dense == [64, 64, 10]


@pytest.mark.parametrize("name", ["lenet_300_100", "conv2_8", "conv4_4", "conv6_4",
                                  "cifar_resnet_8_4", "cifar_resnet_20_2", "cifar_vgg_11_4",
                                  "cifar_vgg_16_4"])
@pytest.mark.parametrize("shape, classes", [((3, 32, 32), 10), ((1, 28, 28), 5),
                                            ((3, 48, 40), 7), ((3, 16, 16), 2)])
def test_networks_fit_the_images_and_classes_asked_for(name, shape, classes):
    model = models.build(name, init_seed=0, input_shape=shape, num_classes=classes).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, classes) and torch.isfinite(out).all()
    assert dict(model.named_parameters())[models.output_layer(model)].shape[0] == classes


def test_lenet_takes_the_flattened_image():
    model = models.build("lenet_300_100", init_seed=0, input_shape=(3, 32, 32))
    assert model.layers[0].in_features == 3 * 32 * 32


@pytest.mark.parametrize("name, shape, classes, message", [
    ("cifar_vgg_16", (3, 8, 8), 10, "at least 16×16"),
    ("conv6", (3, 4, 4), 10, "at least 8×8"),
    ("conv4", (32, 32), 10, "channels, height, width"),
    ("xor_mlp_4", (2,), 5, "xor"),
    ("cifar_resnet_20_0", (3, 32, 32), 10, "width"),
])
def test_networks_that_cannot_fit_say_why(name, shape, classes, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, init_seed=0, input_shape=shape, num_classes=classes)


def test_resnet_50_takes_a_cifar_stem_on_small_images():
    small = models.build("resnet_50", 0, input_shape=(3, 32, 32), num_classes=10)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    large = models.build("resnet_50", 0, input_shape=(3, 64, 64), num_classes=7)
    assert large.conv1.kernel_size == (7, 7) and large.conv1.stride == (2, 2)
    with torch.no_grad():
        assert large.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 7)
    assert sum(p.numel() for p in small.parameters()) > 23_000_000
    assert models.output_layer(small) == "fc.weight"
