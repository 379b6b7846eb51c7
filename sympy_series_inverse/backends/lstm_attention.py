"""The paper's attention variant (appendix B): the LSTM encoder-decoder of
:mod:`.lstm` with Bahdanau-style additive attention over the encoder outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .lstm import LSTMConfig, LSTMEncoder, decoder_step, lstm_step

__all__ = ["LSTMAttentionConfig", "LSTMAttentionSeq2Seq", "AttentionState"]


@dataclass
class LSTMAttentionConfig(LSTMConfig):
    attention_dim: int | None = None  # size of W_a s_t and U_a h_i; None: hidden_size


class AttentionState(NamedTuple):
    """Decoder state per hypothesis row plus the memory of each source, which rows point
    into (reordering hypotheses moves only ``h``, ``c`` and ``source``, never the memory)."""

    h: torch.Tensor  # [layers, N, H]
    c: torch.Tensor  # [layers, N, H]
    source: torch.Tensor  # [N] the source row each hypothesis reads
    memory: torch.Tensor  # [B, L, H] encoder outputs h_i
    keys: torch.Tensor  # [B, L, A] U_a h_i in float32, computed once per source in ``encode``
    mask: torch.Tensor  # [B, L] True on real source tokens


# Decoding scores attention in chunks of rows whose [rows, L, A] float32 block (4 MiB)
# stays in cache: on CPU the whole [N, L, A] block for a 640-row batched beam is 4x slower.
_ATTENTION_CHUNK_ELEMENTS = 1 << 20


class LSTMAttentionSeq2Seq(nn.Module):
    """LSTM encoder-decoder with additive attention, paper appendix B, equations 2-4.

    With ``s_t`` the decoder's top-layer state at step t and ``h_i`` the encoder outputs::

        e_{t,i}     = v_a^T tanh(W_a s_t + U_a h_i)
        alpha_{t,i} = exp(e_{t,i}) / sum_j exp(e_{t,j})      (j over real tokens; padding gets 0)
        c_t         = sum_i alpha_{t,i} h_i
        p(y_t | y_<t, x) = Softmax(V [s_t; c_t] + b)

    As in the paper, attention is read from the current state ``s_t`` and the context only
    feeds the output layer (no input feeding), so teacher-forced training runs the decoder
    LSTM over the whole target at once. The encoder's final ``(h, c)`` initialise the decoder.
    """

    def __init__(self, config: LSTMAttentionConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        attn = config.attention_dim or hidden
        self.encoder = LSTMEncoder(config)
        self.embed = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.LSTM(
            config.embedding_dim,
            hidden,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.W_a = nn.Linear(hidden, attn, bias=False)
        self.U_a = nn.Linear(hidden, attn, bias=False)
        self.v_a = nn.Linear(attn, 1, bias=False)
        self.out = nn.Linear(2 * hidden, config.vocab_size)  # V [s_t; c_t] + b

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def attend(
        self, s: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries ``s`` [N, T, H] over one source per row -> context [N, T, H] and
        weights alpha [N, T, L] (rows sum to 1, exactly 0 on padding)."""
        e = self.v_a(torch.tanh(self.W_a(s).unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)  # [N, T, L]
        e = e.masked_fill(~mask.unsqueeze(1), float("-inf"))
        alpha = torch.softmax(e, dim=-1)  # [N, T, L]
        return torch.bmm(alpha, memory), alpha  # [N, T, H]

    def attend_rows(self, s: torch.Tensor, state: AttentionState) -> torch.Tensor:
        """Decoding's attention: one query ``s`` [N, H] per hypothesis row over its source
        -> context [N, H]. The same maths as :meth:`attend`, computed for speed: energies
        in float32 (also under a bfloat16 model) with ``tanh(z) = 2 sigmoid(2z) - 1``
        (torch's CPU tanh is about 4x slower than its sigmoid), in cache-sized chunks of
        rows, gathering each row's source memory only inside its chunk (or, with a single
        source, one series' beam, broadcasting it)."""
        n = s.size(0)
        sources, length, attn = state.keys.shape
        query = self.W_a(s).float()  # [N, A]
        v = self.v_a.weight.float().squeeze(0)  # [A]
        context = s.new_empty(n, state.memory.size(2))
        rows = max(1, _ATTENTION_CHUNK_ELEMENTS // max(1, length * attn))
        for i in range(0, n, rows):
            src = state.source[i:i + rows]
            if sources == 1:
                z = query[i:i + rows].unsqueeze(1) + state.keys  # [r, L, A]
            else:
                z = state.keys.index_select(0, src).add_(query[i:i + rows].unsqueeze(1))
            if torch.is_grad_enabled():  # in-place ops would break backpropagation
                z = torch.sigmoid(2 * z) * 2 - 1
            else:
                z = torch.sigmoid(z.mul_(2), out=z).mul_(2).sub_(1)
            e = z @ v  # [r, L]
            mask = state.mask if sources == 1 else state.mask.index_select(0, src)
            alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1).to(context.dtype)  # [r, L]
            if sources == 1:
                context[i:i + rows] = alpha @ state.memory[0]
            else:
                context[i:i + rows] = torch.bmm(alpha.unsqueeze(1), state.memory.index_select(0, src)).squeeze(1)
        return context

    def _memory(self, src: torch.Tensor, src_lengths: torch.Tensor):
        memory, (h, c) = self.encoder(src, src_lengths)  # memory: [B, L, H]
        lengths = torch.as_tensor(src_lengths, device=src.device)
        mask = torch.arange(src.size(1), device=src.device).unsqueeze(0) < lengths.unsqueeze(1)  # [B, L]
        source = torch.arange(src.size(0), device=src.device)
        return AttentionState(h, c, source, memory, self.U_a(memory), mask)

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        return_attention: bool = False,
    ):
        """Teacher forcing: logits [B, T, V] (and alpha [B, T, L] if ``return_attention``)."""
        st = self._memory(src, src_lengths)  # one row per source: source[b] == b
        s, _ = self.decoder(self.drop(self.embed(tgt_in)), (st.h, st.c))  # [B, T, H]
        context, alpha = self.attend(s, st.keys, st.memory, st.mask)
        logits = self.out(torch.cat([s, context], dim=-1))
        return (logits, alpha) if return_attention else logits

    # -- decode-step protocol -------------------------------------------------------------

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> AttentionState:
        state = self._memory(src, src_lengths)
        return state._replace(keys=state.keys.float())

    def decode_step(self, tokens: torch.Tensor, state: AttentionState) -> tuple[torch.Tensor, AttentionState]:
        if self.training:
            s, (h, c) = lstm_step(self.decoder, self.drop(self.embed(tokens)), (state.h, state.c))  # s: [N, H]
        else:
            s, (h, c) = decoder_step(self.decoder, self.embed, tokens, (state.h, state.c))
        logits = self.out(torch.cat([s, self.attend_rows(s, state)], dim=-1))  # [N, V]
        return F.log_softmax(logits.float(), dim=-1), state._replace(h=h, c=c)  # float32 even from bfloat16

    def reorder_state(self, state: AttentionState, index: torch.Tensor) -> AttentionState:
        return state._replace(
            h=state.h.index_select(1, index), c=state.c.index_select(1, index), source=state.source.index_select(0, index)
        )
