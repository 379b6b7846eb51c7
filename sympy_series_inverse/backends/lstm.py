"""The paper's model: a 2-layer LSTM encoder-decoder (section 5.1, appendix A).

The encoder reads the tokenized series; its final ``(h, c)`` of every layer initialises the
decoder, which generates the function token by token. Source and target share one
vocabulary, as in the paper; each side has its own embedding table.

Besides teacher-forced ``forward`` the model implements the decode-step protocol that
:mod:`sympy_series_inverse.decoding` relies on (``encode`` / ``decode_step`` /
``reorder_state``), so greedy and beam search never look inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["LSTMConfig", "LSTMEncoder", "LSTMSeq2Seq", "LSTMState", "lstm_step", "decoder_step"]


@dataclass
class LSTMConfig:
    vocab_size: int  # one vocabulary shared by source and target, as in the paper
    embedding_dim: int = 150
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.2  # between LSTM layers (and on embeddings)
    pad_id: int = 0


LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [num_layers, N, H]


# From this many rows on, torch's fused LSTM kernel (oneDNN on CPU) beats two plain matrix
# products per layer; below it, its per-call overhead dominates (measured on a 2-core
# AVX-512 CPU, hidden 512: 10 rows 1.3 vs 2.5-6 ms, 640 rows 66 vs 31 ms).
FUSED_MIN_ROWS = 64
# The same crossover for decoder_step, whose small-batch path does less work (one matrix
# product per layer, a table lookup for the first): 256 rows 41 vs 43 us per row, 640
# rows 41 vs 39 (bfloat16, one thread).
DECODER_FUSED_MIN_ROWS = 512


def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The LSTM cell from its pre-activations ``gates`` [N, 4H] (torch's order: i, f, g, o)
    and the previous cell state: the new ``(h, c)``."""
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
    """One time step of a multi-layer ``nn.LSTM``: ``x`` [N, E], ``state`` (h, c)
    [layers, N, H] -> top output [N, H] and the new state.

    Same maths as ``lstm(x.unsqueeze(1), state)``, but small batches (a single query's beam)
    are computed here from the module's own parameters, which on CPU is 2-4x faster per step
    than the fused kernel; decoding is thousands of such steps. Gate order is torch's: i, f, g, o.
    """
    if x.size(0) >= FUSED_MIN_ROWS:
        out, state = lstm(x.unsqueeze(1), state)
        return out.squeeze(1), state
    h0, c0 = state
    hs, cs = [], []
    for layer in range(lstm.num_layers):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(lstm, f"{p}_l{layer}") for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        gates = torch.addmm(b_ih, x, w_ih.t()) + torch.addmm(b_hh, h0[layer], w_hh.t())  # [N, 4H]
        h, c = _cell(gates, c0[layer])
        hs.append(h)
        cs.append(c)
        x = h
        if layer < lstm.num_layers - 1 and lstm.training and lstm.dropout > 0:
            x = F.dropout(x, lstm.dropout, training=True)  # as nn.LSTM: between layers only
    return x, (torch.stack(hs), torch.stack(cs))


def _inference_weights(lstm: nn.LSTM, embed: nn.Embedding) -> list[torch.Tensor]:
    """Weights rearranged for :func:`decoder_step`, cached on ``lstm`` until a parameter
    changes (moved, cast or trained): ``[table, w_hh_0, w_1, b_1, ...]`` with ``table`` [V, 4H]
    the first layer's input gates for every token (``embed @ W_ih^T + b_ih + b_hh``, summed
    in float32), and for each later layer its two matrices side by side, ``[W_ih, W_hh]``."""
    params = [embed.weight, *lstm.parameters()]
    key = tuple((p.data_ptr(), p._version, p.dtype) for p in params)
    cached = getattr(lstm, "_inference_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    p = {name: getattr(lstm, name) for name, _ in lstm.named_parameters()}
    dtype = p["weight_hh_l0"].dtype
    table = torch.addmm((p["bias_ih_l0"] + p["bias_hh_l0"]).float(), embed.weight.float(), p["weight_ih_l0"].float().t())
    weights = [table.to(dtype), p["weight_hh_l0"]]
    for layer in range(1, lstm.num_layers):
        weights.append(torch.cat([p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]], dim=1))
        weights.append((p[f"bias_ih_l{layer}"].float() + p[f"bias_hh_l{layer}"].float()).to(dtype))
    lstm._inference_cache = (key, weights)
    return weights


def decoder_step(lstm: nn.LSTM, embed: nn.Embedding, tokens: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
    """``lstm_step(lstm, embed(tokens), state)`` for decoding (no dropout, no gradients),
    with one matrix product per layer: the first layer's input gates are looked up per
    token instead of multiplied, later layers multiply ``[x, h]`` by ``[W_ih, W_hh]`` at once.
    Falls back to :func:`lstm_step` while training, when gradients are on, or for batches
    big enough for torch's fused kernel."""
    if lstm.training or torch.is_grad_enabled() or tokens.size(0) >= DECODER_FUSED_MIN_ROWS or lstm.bias is False:
        return lstm_step(lstm, embed(tokens), state)
    table, w_hh0, *rest = _inference_weights(lstm, embed)
    h0, c0 = state
    hs, cs = [], []
    gates = torch.addmm(table.index_select(0, tokens), h0[0], w_hh0.t())
    for layer in range(lstm.num_layers):
        if layer:
            w, b = rest[2 * layer - 2], rest[2 * layer - 1]
            gates = torch.addmm(b, torch.cat([x, h0[layer]], dim=1), w.t())
        x, c = _cell(gates, c0[layer])
        hs.append(x)
        cs.append(c)
    return x, (torch.stack(hs), torch.stack(cs))


class LSTMEncoder(nn.Module):
    """Embedding + multi-layer LSTM over padded sources, run packed so that padding never
    reaches the recurrence: the final state is the state after each row's last real token."""

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            # nn.LSTM applies dropout to every layer's output but the last; with one layer
            # there is nothing between layers and torch warns.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, LSTMState]:
        """``src`` [B, L] padded ids, ``src_lengths`` [B] (each >= 1) ->
        outputs [B, L, H] (zeros on padding) and the final ``(h, c)`` [layers, B, H]."""
        lengths = torch.as_tensor(src_lengths, dtype=torch.long).cpu()  # packing wants CPU lengths
        if lengths.numel() and int(lengths.min()) < 1:
            raise ValueError("every source sequence needs at least one token")
        x = self.drop(self.embed(src))  # [B, L, E]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)  # h, c come back in the original row order
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))  # [B, L, H]
        return out, (h, c)


class LSTMSeq2Seq(nn.Module):
    """The paper's 2-layer LSTM encoder-decoder; the encoder's final ``(h, c)`` initialise
    the decoder. Output distribution: ``p(y_t | y_<t, x) = Softmax(W_o s_t + b_o)`` with
    ``s_t`` the decoder's top-layer state."""

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.encoder = LSTMEncoder(config)
        self.embed = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.out = nn.Linear(config.hidden_size, config.vocab_size)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``tgt_in`` [B, T] starts with ``<sos>``; returns logits [B, T, V]
        for the next token at every position (positions after a row's end are don't-care)."""
        _, state = self.encoder(src, src_lengths)
        s, _ = self.decoder(self.drop(self.embed(tgt_in)), state)  # [B, T, H]
        return self.out(s)

    # -- decode-step protocol -------------------------------------------------------------

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> LSTMState:
        """The decoder's initial state for each source row."""
        _, state = self.encoder(src, src_lengths)
        return state

    def decode_step(self, tokens: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """Feed one token per row (``tokens`` [N]); return log-probabilities of the next
        token [N, V] and the new state."""
        if self.training:
            s, state = lstm_step(self.decoder, self.drop(self.embed(tokens)), state)  # s: [N, H]
        else:
            s, state = decoder_step(self.decoder, self.embed, tokens, state)
        return F.log_softmax(self.out(s).float(), dim=-1), state  # float32 even from a bfloat16 model

    def reorder_state(self, state: LSTMState, index: torch.Tensor) -> LSTMState:
        """Rows ``index`` [N'] of the state (selects, repeats and permutes hypotheses)."""
        h, c = state
        return h.index_select(1, index), c.index_select(1, index)
