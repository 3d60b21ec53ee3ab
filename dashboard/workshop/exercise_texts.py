"""The workshop's words, as data: each exercise's title, prompt, hint and common mistakes.

`TEXTS[id]` holds `title`, `prompt` (markdown, written here), `hint` and `mistakes` (a wrong
answer as a learner types it → what it shows they missed, about the layer asked). The numbers
an answer is checked against are not here: `dashboard.workshop.exercises` takes them from the layer
arithmetic. Mistakes are wrong answers; a unit test checks that none of them passes.
`PLACEHOLDERS` are the answer boxes' example texts: a format, never an answer.

Pure data: no imports beyond the standard library.
"""

from __future__ import annotations

from typing import Any

PLACEHOLDERS = {"shape": "(None, h, w, c)", "number": "a whole number, like 1,234"}

ONE_BY_ONE_CHOICES = (
    "It falls to about chance (10%): a 1×1 map cannot say where anything is.",
    "It drops a little (around a point) but stays far above chance: each of the 64 numbers sees "
    "the whole digit and still says which strokes are there; what is lost is where they are.",
    "It rises: one more block of depth always buys accuracy.",
)
ONE_BY_ONE_EXPLANATIONS = (
    "No: the one position of a 1×1 map sees the whole 28×28 digit, and its 64 channels still say which strokes and loops "
    "are present. On the Inside page, keeping just one of the book's 3×3 positions already gives far "
    "more than chance.",
    "Right. The one position of a 1×1 map sees the whole input, so the 64 filters still detect which strokes are "
    "present; the layout of the 3×3 (top stroke here, loop there) is gone, and the last pooling throws "
    "away 8 of every 9 numbers, so a little accuracy goes with it. Compare the cached runs on the "
    "Inside page (Depth against size).",
    "No: more depth is not free. The extra pooling squeezes 3×3 to 1×1 and discards information; "
    "compare the two networks trained alike in the cache.",
)

TEXTS: dict[str, dict[str, Any]] = {
    "conv1_shape": {
        "title": "The first layer's output",
        "prompt": ("The book's network starts with `Conv2D(32, (3, 3), activation='relu')` on 28×28×1 "
                   "images, with 'valid' padding (no padding). **What is the output shape of this first "
                   "layer, `conv2d`?**"),
        "hint": "A 3×3 window fits 28 − 3 + 1 times along each side; there is one output map per filter.",
        "mistakes": {
            "(None, 28, 28, 32)": ("28×28 would need 'same' padding, which pads the border. conv2d uses "
                                   "'valid' padding: a 3×3 window fits 28 − 3 + 1 times along a side."),
            "(None, 25, 25, 32)": ("Off by one: on 28 pixels a 3×3 window fits 28 − 3 + 1 times "
                                   "(count its first position too)."),
            "(None, 26, 26, 3)": ("3 is the side of conv2d's kernel, not its channels: conv2d makes one "
                                  "output map per filter."),
        },
    },
    "conv1_params": {
        "title": "Weights of one conv layer",
        "prompt": "**How many parameters (weights and biases) does `conv2d` have?**",
        "hint": "Each of the 32 filters has 3×3×1 weights and one bias.",
        "mistakes": {
            "9": "9 is one filter's weights (3×3×1); conv2d has 32 filters, each also with a bias.",
            "10": "10 is one filter (3×3×1 weights and a bias); conv2d has 32 of them.",
            "96": "That counts 3 weights per filter: a 3×3 kernel on one channel has 3 × 3 = 9, and each filter a bias.",
            "128": "That counts 3 weights per filter: a 3×3 kernel on one channel has 3 × 3 = 9 weights.",
            "21,632": ("That is the number of conv2d's outputs (26 × 26 × 32): the same 32 filters slide "
                       "over every position, so their weights are counted once."),
        },
    },
    "last_shape": {
        "title": "Down to 3×3",
        "prompt": ("Then come `MaxPooling2D(2)`, `Conv2D(64, 3)`, `MaxPooling2D(2)` and `Conv2D(64, 3)`. "
                   "**What is the output shape of the last conv layer, `conv2d_2`?**"),
        "hint": "26 → pool → 13 → conv → 11 → pool → 5 (pooling rounds down) → conv → ?",
        "mistakes": {
            "(None, 4, 4, 64)": ("Pooling rounds down: max_pooling2d_1 turns 11 into 5, not 6; "
                                 "then conv2d_2's 3×3 window fits 5 − 3 + 1 times."),
            "(None, 7, 7, 64)": ("28 → 14 → 7 is the poolings alone. Each 3×3 conv with 'valid' padding "
                                 "also takes 2 pixels off a side, conv2d_2 included."),
            "(None, 3, 3, 32)": ("Height and width are right; conv2d_2 has 64 filters (only the first conv "
                                 "has 32), and makes one output map per filter."),
        },
    },
    "last_rf": {
        "title": "What one of the 3×3 sees",
        "prompt": ("Each of the 3×3 positions of `conv2d_2` looks at a square window of the input. "
                   "**How many input pixels wide is that window (its receptive field)?**"),
        "hint": "Each 3×3 conv adds 2 × (the current jump); each 2×2 pooling adds 1 × the jump and doubles it.",
        "mistakes": {
            "3": ("3 is conv2d_2's window on its own input (max_pooling2d_1's 5×5 map). Each of those "
                  "positions already stands for a window of the digit: follow it back to the pixels."),
            "7": ("7 counts the three 3×3 convs alone (3 + 2 + 2). The poolings count too: each widens "
                  "the window by one jump and doubles the jump."),
            "9": ("9 adds 2 per conv and 1 per pooling in pixels, but after each 2×2 pooling one step is "
                  "2, then 4 pixels of the digit (the jump): conv2d_2 adds 2 × 4."),
            "28": ("Not the whole digit: each of conv2d_2's 3×3 positions sees only part of it; that is "
                   "why there are 9 positions."),
        },
    },
    "dense_params": {
        "title": "576 numbers into Dense(64)",
        "prompt": ("`Flatten` turns `conv2d_2`'s output into one vector, which feeds `Dense(64)`. "
                   "**How many parameters does that Dense layer (`dense`) have?**"),
        "hint": "3 × 3 × 64 = 576 inputs, each connected to each of the 64 units, plus 64 biases.",
        "mistakes": {
            "576": "576 is the number of dense's inputs (3 × 3 × 64); each of its 64 units has a weight per input and a bias.",
            "4,160": ("That is a Dense(64) fed 64 numbers (after global average pooling). Here Flatten "
                      "passes all 3 × 3 × 64 = 576 numbers to dense."),
        },
    },
    "book_total": {
        "title": "The whole network",
        "prompt": "**How many parameters does the whole book network have?**",
        "hint": "Add up the three conv layers and the two Dense layers; pooling and Flatten have none.",
        "mistakes": {},  # the generic rules name a left-out layer, weights without biases, …
    },
    "no_pool_params": {
        "title": "Without pooling",
        "prompt": ("Remove both `MaxPooling2D` layers (the **no_pooling** preset): the three convs now "
                   "give 26, 24 and 22 pixels a side. **How many parameters does its first Dense layer "
                   "(`dense`) have now?**"),
        "hint": "22 × 22 × 64 inputs, times 64 units, plus 64 biases.",
        "mistakes": {
            "36,928": ("That is the book network's dense, fed 3 × 3 × 64 numbers. Without pooling, Flatten "
                       "passes 22 × 22 × 64 numbers to dense."),
            "30,976": ("30,976 = 22 × 22 × 64 is the number of dense's inputs; each of its 64 units has "
                       "a weight per input and a bias."),
        },
    },
    "gap_params": {
        "title": "Average instead of flatten",
        "prompt": ("The **global_avg** preset replaces `Flatten` by `GlobalAveragePooling2D`, which "
                   "averages each of the 64 maps to one number. **How many parameters does its first "
                   "Dense layer (`dense`, 64 units) have?**"),
        "hint": "64 inputs, 64 units, 64 biases.",
        "mistakes": {
            "36,928": ("That is the book's dense, fed 3 × 3 × 64 = 576 numbers by Flatten. Global average "
                       "pooling gives dense one number per map: 64 inputs."),
            "64": "64 is the number of dense's inputs (one average per map); each of its 64 units has a weight per input and a bias.",
        },
    },
    "one_by_one": {
        "title": "Make the last map 1×1",
        "prompt": ("Build a network whose last conv map is **1×1** (on the Architecture page, or type its "
                   "JSON), then check it here. *One way:* add a fourth block, or keep the pooling after "
                   "the third conv."),
        "hint": "From 3×3, one more 2×2 pooling gives 1×1 (pooling rounds down).",
        "mistakes": {},  # the checker says which map the network ends in
    },
    "one_by_one_why": {
        "title": "What does 1×1 cost?",
        "prompt": ("Compared with the book network's 3×3×64 last map, **what happens to test accuracy "
                   "when the last map is 1×1×64, and why?**"),
        "hint": "What does the one position of a 1×1 map see of the input? Try the Inside page's ablations.",
        "mistakes": {},  # each choice has its own explanation
    },
    "budget": {
        "title": "Small but good",
        "prompt": ("Find a network with **at most {budget:,} parameters** that reaches **at least "
                   "{target:.1%} validation accuracy** after its last epoch. Train it on the Train page "
                   "(full MNIST), then pick its run here."),
        "hint": ("Every preset is over the budget; the smallest, tiny ({tiny:,}), spends {tiny_dense:,} of "
                 "them on its Flatten → Dense link. Count that link first: a conv filter's weights are shared "
                 "across positions, a Dense layer's are not. Only shrinking tiny's Dense layer gave 98.1–98.4% "
                 "after the fast preset's one epoch here: spend the parameters on conv filters instead, and "
                 "let a smaller map reach Flatten."),
        "mistakes": {},  # the checker reads the run's record
    },
}
