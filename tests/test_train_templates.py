"""Loss masks on the real chat templates of the major model families (tests/templates/).

Each template is attached to a tiny BPE tokenizer carrying that family's special
tokens. Only assistant content and its end-of-turn token may carry loss.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from curate.train.data import IGNORE_INDEX, Example, build_dataset, encode_example  # noqa: E402
from curate.train.render import TemplateError, inspect_template, rendered_segments  # noqa: E402
from curate.train.tinymodel import build_tokenizer  # noqa: E402

TEMPLATES = Path(__file__).parent / "templates"

LLAMA = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"]
QWEN = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>"]
MISTRAL = [
    "[INST]",
    "[/INST]",
    "[TOOL_CALLS]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
]
GEMMA = ["<start_of_turn>", "<end_of_turn>"]
PHI = ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]


@dataclass(frozen=True)
class Family:
    template: str
    bos: str | None
    eos: str
    pad: str
    extra: list
    eot: str  # what ends an assistant turn
    tools: str = "ok"  # "ok", "drops" (renders a tool-call turn without its calls) or "raises"
    folds_system: str | None = None


FAMILIES = {
    "llama-3": Family(
        "llama-3.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>", LLAMA, "<|eot_id|>", "drops"
    ),
    "llama-3.1": Family(
        "llama-3.1.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>", LLAMA, "<|eot_id|>"
    ),
    "llama-3.2": Family(
        "llama-3.2.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>", LLAMA, "<|eot_id|>"
    ),
    "qwen2.5": Family("qwen2.5.jinja", None, "<|im_end|>", "<|endoftext|>", QWEN, "<|im_end|>"),
    "qwen3": Family("qwen3.jinja", None, "<|im_end|>", "<|endoftext|>", QWEN, "<|im_end|>"),
    "mistral-v0.3": Family("mistral-v0.3.jinja", "<s>", "</s>", "<unk>", MISTRAL, "</s>", folds_system="last"),
    "gemma-2": Family("gemma-2.jinja", "<bos>", "<eos>", "<pad>", GEMMA, "<end_of_turn>", "raises", "first"),
    "gemma-3": Family("gemma-3.jinja", "<bos>", "<eos>", "<pad>", GEMMA, "<end_of_turn>", "raises"),
    "phi-3": Family("phi-3.jinja", "<s>", "<|endoftext|>", "<|endoftext|>", PHI, "<|end|>", "drops"),
    "phi-3.5": Family("phi-3.5.jinja", "<s>", "<|endoftext|>", "<|endoftext|>", PHI, "<|end|>", "drops"),
}

SYSTEM = {"role": "system", "content": "You answer in one sentence."}
Q1, A1 = "What is the capital of France?", "The capital of France is Paris."
Q2, A2 = "And of Italy?", "That would be Rome."
Q3, A3 = "And of Spain?", "Madrid is the capital of Spain."


def turn(role, content, **extra):
    return {"role": role, "content": content, **extra}


SINGLE = [turn("user", Q1), turn("assistant", A1)]
MULTI = [
    turn("user", Q1),
    turn("assistant", A1),
    turn("user", Q2),
    turn("assistant", A2, weight=0),
    turn("user", Q3),
    turn("assistant", A3),
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TOOL_CALL = [
    turn("user", "What is the weather in Paris?"),
    turn(
        "assistant",
        "",
        tool_calls=[
            {
                "id": "call00001",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    ),
    turn("tool", "sunny, 21 C", tool_call_id="call00001"),
    turn("assistant", "It is sunny in Paris."),
]


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    spec = FAMILIES[request.param]
    texts = [Q1, A1, Q2, A2, Q3, A3, SYSTEM["content"], "get_weather city Paris sunny"] * 2
    tokenizer = build_tokenizer(
        texts,
        vocab_size=360,
        bos=spec.bos,
        eos=spec.eos,
        pad=spec.pad,
        extra_tokens=spec.extra,
        chat_template=(TEMPLATES / spec.template).read_text(encoding="utf-8"),
    )
    tokenizer.name_or_path = request.param
    return spec, tokenizer


def trained_spans(tokenizer, messages):
    """The decoded runs of consecutive trained tokens."""
    encoded = encode_example(tokenizer, Example("d.jsonl", 5, messages))
    runs, current = [], []
    for token, label in zip(encoded.input_ids, encoded.labels):
        if label != IGNORE_INDEX:
            assert label == token
            current.append(token)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    if current:
        runs.append(tokenizer.decode(current))
    return runs, encoded


@pytest.mark.parametrize("with_system", [False, True], ids=["no-system", "system"])
@pytest.mark.parametrize("conversation", ["single", "multi"])
def test_only_assistant_content_and_end_of_turn_carry_loss(family, conversation, with_system):
    spec, tokenizer = family
    messages = {"single": SINGLE, "multi": MULTI}[conversation]
    messages = [SYSTEM, *messages] if with_system else messages
    runs, encoded = trained_spans(tokenizer, messages)
    replies = [A1] if conversation == "single" else [A1, A3]  # the weight-0 reply is not trained
    assert runs == [reply + spec.eot for reply in replies]
    rendered = tokenizer.decode(encoded.input_ids)
    if with_system:  # the system prompt is kept (folded into the first user turn where the template needs it)
        assert SYSTEM["content"] in rendered
    assert inspect_template(tokenizer).folds_system == spec.folds_system


def test_tool_calls_train_what_the_model_emits(family):
    spec, tokenizer = family
    if spec.tools == "drops":
        with pytest.raises(TemplateError, match=r"d.jsonl:5: the chat template of \S+ drops tool calls.*get_weather"):
            encode_example(tokenizer, Example("d.jsonl", 5, TOOL_CALL, [WEATHER_TOOL]))
        return
    if spec.tools == "raises":
        data = build_dataset(tokenizer, [Example("d.jsonl", 5, TOOL_CALL, [WEATHER_TOOL])], 512)
        assert not data.kept and str(data.unrenderable[0]).startswith("d.jsonl:5: the chat template of ")
        return
    runs, _ = trained_spans(tokenizer, [TOOL_CALL[0], *TOOL_CALL[1:]])
    call, answer = runs
    assert "get_weather" in call and call.endswith(spec.eot)
    assert '"city": "Paris"' in call and '\\"city\\"' not in call  # arguments as an object, encoded once
    assert call.count("Paris") == 1
    assert answer == "It is sunny in Paris." + spec.eot


def test_sharegpt_function_call_and_observation_render_as_a_tool_call():
    spec = FAMILIES["qwen2.5"]
    tokenizer = build_tokenizer(
        [Q1, A1, "get_weather Paris"],
        vocab_size=320,
        bos=None,
        eos=spec.eos,
        pad=spec.pad,
        extra_tokens=spec.extra,
        chat_template=(TEMPLATES / spec.template).read_text(),
    )
    messages = [
        turn("user", "Weather in Paris?"),
        {
            "role": "assistant",
            "content": '{"name": "get_weather", "arguments": {"city": "Paris"}}',
            "tool_calls": {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
        },
        turn("tool", "sunny"),
        turn("assistant", "Sunny."),
    ]
    segments = rendered_segments(tokenizer, messages, '[{"name": "get_weather", "parameters": {}}]', "s.jsonl:2")
    trained = [text for text, train in segments if train]
    assert trained == [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
        "Sunny.<|im_end|>",
    ]


def test_generation_marked_template_matches_transformers_assistant_mask():
    template = (
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>"
        "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|end|>{% endgeneration %}"
        "{% else %}{{ m['content'] }}<|end|>{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tokenizer = build_tokenizer([Q1, A1, Q3, A3], vocab_size=320, chat_template=template)
    messages = [SYSTEM, *SINGLE, turn("user", Q3), turn("assistant", A3)]
    ours = encode_example(tokenizer, Example("d.jsonl", 1, messages))
    theirs = tokenizer.apply_chat_template(messages, return_assistant_tokens_mask=True, return_dict=True)
    assert ours.input_ids == theirs["input_ids"]
    assert [label != IGNORE_INDEX for label in ours.labels] == [bool(x) for x in theirs["assistant_masks"]]


@pytest.mark.slow
def test_dry_run_preview_trains_only_replies_and_end_of_turn(family, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from curate.train.cli import train_command

    spec, tokenizer = family
    tokenizer.save_pretrained(tmp_path / "tok")
    records = [
        {"messages": [SYSTEM, turn("user", f"{Q1} (case {i})"), turn("assistant", f"{A1} Case {i}.")]} for i in range(6)
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:4]))
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[4:]))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        train_command,
        [
            "--model",
            "tok",
            "--data",
            "train.jsonl",
            "--eval",
            "eval.jsonl",
            "--output",
            "out",
            "--dry-run",
            "--preview",
            "6",
            "--preview-json",
            "p.json",
        ],
    )
    assert result.exit_code == 0, result.output
    examples = json.loads((tmp_path / "p.json").read_text())["examples"]
    assert [[s["text"] for s in e["segments"] if s["train"]] for e in examples] == [
        [f"{A1} Case {i}.{spec.eot}"] for i in range(6)
    ]
