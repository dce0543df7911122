"""A registry of networks by name, each with the initialisation its paper used::

    model = build("lenet_300_100", init_seed=0)
    prunable(model)        # ['fc1.weight', 'fc2.weight', 'fc3.weight']
    output_layer(model)    # 'fc3.weight' (pruned at half the rate in the LTH recipe)

Names: ``xor_mlp_H`` (2→H→1, any H), ``lenet_300_100``, ``conv2``, ``conv4``, ``conv6``,
``cifar_resnet_20`` (and any 6n+2 depth, ``cifar_resnet_56``…), ``cifar_vgg_11/13/16/19``,
``resnet_50`` (torchvision's ImageNet ResNet-50; on images under 64 px its stem is a 3×3
convolution without max-pooling, as usual on CIFAR, so its last stage still sees 4×4 maps).
The conv nets take a width as a suffix, OpenLTH's way: ``cifar_resnet_20_16`` is depth 20 with
16 channels in its first stage (the default), ``cifar_vgg_16_32`` a VGG-16 whose stages have
32-64-128-256-256 channels, ``conv4_16`` a Conv-4 with 16-32 channels (and 64-wide dense layers:
every hidden layer scales with the width). ``build(name, seed, input_shape=(3, 64, 64),
num_classes=10)`` fits a network to other images; the defaults are each family's own
(784 inputs for LeNet, 3×32×32 for the conv nets).
Weights, not biases or batch-norm parameters, are prunable, as in the papers.
"""
from __future__ import annotations

import math
import re
import threading

import torch
from torch import nn
import torch.nn.functional as F


class XorMLP(nn.Module):
    """2→H→1 with ReLU hidden units and a single logit (class 1 when positive)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x))).squeeze(-1)


class LeNet(nn.Module):
    """Fully connected 784→300→100→10 (LTH, Fig. 3)."""

    def __init__(self, sizes=(300, 100), inputs=784, classes=10):
        super().__init__()
        widths = (inputs, *sizes, classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class ConvNet(nn.Module):
    """Conv-2/4/6 (LTH, Fig. 2): pairs of 3×3 convs with max-pooling, then 256-256-10."""

    def __init__(self, plan, inputs=3, classes=10, image=(32, 32), dense=256):
        super().__init__()
        layers, channels, (h, w) = [], inputs, image
        for spec in plan:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            else:
                layers += [nn.Conv2d(channels, spec, 3, padding=1), nn.ReLU()]
                channels = spec
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(channels * h * w, dense), nn.ReLU(),
                                nn.Linear(dense, dense), nn.ReLU(), nn.Linear(dense, classes))

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


class _Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR-10 (He et al., 2016): three stages of width W-2W-4W (W=16)."""

    def __init__(self, depth, width=16, classes=10, inputs=3):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, …), not {depth}")
        blocks = (depth - 2) // 6
        self.conv = nn.Conv2d(inputs, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                layers.append(_Block(cin, cout, 2 if stage and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


_VGG = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512],
}


class CifarVGG(nn.Module):
    """VGG for CIFAR-10 as in the LTH papers: batch-normed 3×3 convs, global pool, one linear.
    ``width`` is the first stage's channels (64 in the papers); later stages scale with it."""

    def __init__(self, depth, width=64, classes=10, inputs=3):
        super().__init__()
        layers, channels = [], inputs
        for spec in _VGG[depth]:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                spec = spec * width // 64
                layers += [nn.Conv2d(channels, spec, 3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                channels = spec
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def _glorot(model: nn.Module) -> nn.Module:
    # LTH (ICLR'19) initialises LeNet and Conv-2/4/6 with Gaussian Glorot and zero biases.
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def _kaiming(model: nn.Module) -> nn.Module:
    # The ResNet/VGG papers (and OpenLTH) use He-normal weights and unit batch-norm scales.
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def _xor_init(model: XorMLP) -> XorMLP:
    # Truncated normal with σ = 0.1, as in the independent 2018 reproduction of the v1 paper.
    for module in (model.fc1, model.fc2):
        nn.init.trunc_normal_(module.weight, std=0.1, a=-0.2, b=0.2)
        nn.init.zeros_(module.bias)
    return model


_CONV_PLANS = {2: [1, 1, "M"], 4: [1, 1, "M", 2, 2, "M"], 6: [1, 1, "M", 2, 2, "M", 4, 4, "M"]}


def _make(name: str, shape: tuple | None, classes: int | None) -> nn.Module:
    if match := re.fullmatch(r"xor_mlp_(\d+)", name):
        if shape not in (None, (2,)) or classes not in (None, 2):
            raise ValueError(f"{name} takes the 2 inputs and 2 classes of xor, not "
                             f"input_shape={shape}, num_classes={classes}")
        return _xor_init(XorMLP(int(match.group(1))))
    classes = classes or 10
    if name == "lenet_300_100":
        return _glorot(LeNet(inputs=math.prod(shape) if shape else 784, classes=classes))
    channels, height, width = _image(name, shape or (3, 32, 32))
    if match := re.fullmatch(r"conv([246])(?:_(\d+))?", name):
        depth, wide = int(match.group(1)), _width(match.group(2), 64, name)
        _fits(name, height, width, depth // 2)
        plan = [s if s == "M" else s * wide for s in _CONV_PLANS[depth]]
        return _glorot(ConvNet(plan, channels, classes, (height, width), dense=4 * wide))
    if match := re.fullmatch(r"cifar_resnet_(\d+)(?:_(\d+))?", name):
        return _kaiming(CifarResNet(int(match.group(1)), _width(match.group(2), 16, name),
                                    classes, channels))
    if match := re.fullmatch(r"cifar_vgg_(\d+)(?:_(\d+))?", name):
        depth = int(match.group(1))
        if depth not in _VGG:
            raise ValueError(f"no VGG of depth {depth}; known: {sorted(_VGG)}")
        _fits(name, height, width, _VGG[depth].count("M"))
        return _kaiming(CifarVGG(depth, _width(match.group(2), 64, name), classes, channels))
    if name == "resnet_50":
        return _resnet_50(channels, height, width, classes)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(NAMES)} (conv nets take a "
                     f"width suffix: conv4_32, cifar_resnet_20_8, cifar_vgg_16_16)")


def _resnet_50(channels, height, width, classes):
    from torchvision.models import resnet50

    model = resnet50(num_classes=classes)
    if min(height, width) < 64:
        model.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    elif channels != 3:
        model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    return _kaiming(model)


def _image(name, shape):
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name} takes images (channels, height, width), not input_shape={shape}")
    return tuple(int(v) for v in shape)


def _width(text, default, name):
    width = default if text is None else int(text)
    if width < 1:
        raise ValueError(f"{name}: the width must be at least 1")
    return width


def _fits(name, height, width, pools):
    # Each max-pool halves the image; one that ends below 1×1 leaves nothing to classify.
    if min(height, width) < 2 ** pools:
        raise ValueError(f"{name} pools {pools} times: images must be at least {2 ** pools}×"
                         f"{2 ** pools} pixels, not {height}×{width}")


_BUILDING = threading.Lock()

NAMES = ("xor_mlp_H", "lenet_300_100", "conv2", "conv4", "conv6", "cifar_resnet_20",
         "cifar_vgg_16", "resnet_50")


def build(name: str, init_seed: int, input_shape: tuple | None = None,
          num_classes: int | None = None) -> nn.Module:
    """A freshly initialised network; the same ``init_seed`` gives bitwise the same weights.

    ``input_shape``: one example's shape (``dataset.input_shape``), e.g. (3, 32, 32); None takes
    the family's default. ``num_classes``: outputs (default 10; xor networks have one logit)."""
    # The draws come from torch's global generator: one build at a time, so runs built in the
    # engine's worker threads cannot interleave their draws.
    with _BUILDING, torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = _make(name, tuple(input_shape) if input_shape is not None else None, num_classes)
    model.lthkit_name = name
    return model


def for_data(name: str, init_seed: int, data) -> nn.Module:
    """``build`` for a dataset: the network's input and output fit ``data``."""
    return build(name, init_seed, input_shape=data.input_shape, num_classes=data.num_classes)


def prunable(model: nn.Module) -> list[str]:
    """Names of the weight tensors that pruning acts on (linear and conv weights)."""
    return [f"{name}.weight" for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, nn.Conv2d))]


def output_layer(model: nn.Module) -> str:
    """The last prunable tensor: the output layer, which the LTH recipe prunes more gently."""
    return prunable(model)[-1]
