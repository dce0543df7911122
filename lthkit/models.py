"""A registry of networks by name, each with the initialisation its paper used::

    model = build("lenet_300_100", init_seed=0)
    prunable(model)        # ['fc1.weight', 'fc2.weight', 'fc3.weight']
    output_layer(model)    # 'fc3.weight' (pruned at half the rate in the LTH recipe)

Names: ``xor_mlp_H`` (2→H→1, any H), ``lenet_300_100``, ``conv2``, ``conv4``, ``conv6``,
``cifar_resnet_20`` (and any 6n+2 depth, ``cifar_resnet_56``…), ``cifar_vgg_11/13/16/19``.
Weights, not biases or batch-norm parameters, are prunable, as in the papers.
"""
from __future__ import annotations

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

    def __init__(self, plan, inputs=3, classes=10, image=32):
        super().__init__()
        layers, channels = [], inputs
        for spec in plan:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
                image //= 2
            else:
                layers += [nn.Conv2d(channels, spec, 3, padding=1), nn.ReLU()]
                channels = spec
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(channels * image * image, 256), nn.ReLU(),
                                nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, classes))

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
    """ResNet-(6n+2) for CIFAR-10 (He et al., 2016), widths 16-32-64."""

    def __init__(self, depth, width=16, classes=10):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n+2, not {depth}")
        blocks = (depth - 2) // 6
        self.conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
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
    """VGG for CIFAR-10 as in the LTH papers: batch-normed 3×3 convs, global pool, one linear."""

    def __init__(self, depth, classes=10):
        super().__init__()
        layers, channels = [], 3
        for spec in _VGG[depth]:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
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


def _make(name: str) -> nn.Module:
    if match := re.fullmatch(r"xor_mlp_(\d+)", name):
        return _xor_init(XorMLP(int(match.group(1))))
    if name == "lenet_300_100":
        return _glorot(LeNet())
    if name in ("conv2", "conv4", "conv6"):
        plans = {"conv2": [64, 64, "M"], "conv4": [64, 64, "M", 128, 128, "M"],
                 "conv6": [64, 64, "M", 128, 128, "M", 256, 256, "M"]}
        return _glorot(ConvNet(plans[name]))
    if match := re.fullmatch(r"cifar_resnet_(\d+)", name):
        return _kaiming(CifarResNet(int(match.group(1))))
    if match := re.fullmatch(r"cifar_vgg_(\d+)", name):
        if int(match.group(1)) not in _VGG:
            raise ValueError(f"no VGG of depth {match.group(1)}; known: {sorted(_VGG)}")
        return _kaiming(CifarVGG(int(match.group(1))))
    raise ValueError(f"unknown model {name!r}; known: {', '.join(NAMES)}")


_BUILDING = threading.Lock()

NAMES = ("xor_mlp_H", "lenet_300_100", "conv2", "conv4", "conv6", "cifar_resnet_20",
         "cifar_vgg_16")


def build(name: str, init_seed: int) -> nn.Module:
    """A freshly initialised network; the same ``init_seed`` gives bitwise the same weights."""
    # The draws come from torch's global generator: one build at a time, so runs built in the
    # engine's worker threads cannot interleave their draws.
    with _BUILDING, torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = _make(name)
    model.lthkit_name = name
    return model


def prunable(model: nn.Module) -> list[str]:
    """Names of the weight tensors that pruning acts on (linear and conv weights)."""
    return [f"{name}.weight" for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, nn.Conv2d))]


def output_layer(model: nn.Module) -> str:
    """The last prunable tensor: the output layer, which the LTH recipe prunes more gently."""
    return prunable(model)[-1]
