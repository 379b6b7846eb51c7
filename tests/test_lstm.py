"""The two LSTM backends: shapes, padding, attention weights, protocol consistency, size,
determinism, and a tiny overfit run decoded exactly by greedy and beam search."""

import pytest

torch = pytest.importorskip("torch")

from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq  # noqa: E402
from sympy_series_inverse.backends.lstm_attention import (  # noqa: E402
    LSTMAttentionConfig,
    LSTMAttentionSeq2Seq,
)
from sympy_series_inverse.decoding import beam_search, greedy  # noqa: E402

PAD, SOS, EOS = 0, 1, 2
V = 12

BACKENDS = {
    "lstm": (LSTMConfig, LSTMSeq2Seq),
    "attention": (LSTMAttentionConfig, LSTMAttentionSeq2Seq),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: more threads than idle cores only adds spinning.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(backend, seed=0, **kw):
    config_cls, model_cls = BACKENDS[backend]
    torch.manual_seed(seed)
    kw = {"embedding_dim": 8, "hidden_size": 16, **kw}
    return model_cls(config_cls(V, **kw))


def batch(seed=0, n=5, max_len=7, tgt_len=6):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, max_len + 1, (n,), generator=g)
    lengths[0] = max_len  # one row fills the batch
    src = torch.randint(3, V, (n, max_len), generator=g)
    src[torch.arange(max_len) >= lengths.unsqueeze(1)] = PAD
    tgt_in = torch.randint(3, V, (n, tgt_len), generator=g)
    tgt_in[:, 0] = SOS
    return src, lengths, tgt_in


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes(backend):
    model = make(backend).eval()
    src, lengths, tgt_in = batch()
    assert model(src, lengths, tgt_in).shape == (5, 6, V)
    state = model.encode(src, lengths)
    log_probs, state = model.decode_step(torch.full((5,), SOS), state)
    assert log_probs.shape == (5, V)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(5))
    state = model.reorder_state(state, torch.tensor([4, 4, 0]))
    log_probs, _ = model.decode_step(torch.tensor([3, 4, 5]), state)
    assert log_probs.shape == (3, V)


@pytest.mark.parametrize("backend", BACKENDS)
def test_padding_does_not_change_real_tokens(backend):
    model = make(backend).eval()
    src, lengths, tgt_in = batch()
    padded = torch.cat([src, torch.zeros(5, 4, dtype=torch.long)], dim=1)  # 4 more pad columns
    with torch.no_grad():
        out, (h, c) = model.encoder(src, lengths)
        out2, (h2, c2) = model.encoder(padded, lengths)
        assert torch.allclose(out, out2[:, :7], atol=1e-6)
        assert torch.all(out2[:, 7:] == 0)
        assert torch.allclose(h, h2, atol=1e-6) and torch.allclose(c, c2, atol=1e-6)
        # Row by row, alone and unpadded, gives the same final state.
        for i in range(5):
            n = int(lengths[i])
            _, (hi, _) = model.encoder(src[i:i + 1, :n], lengths[i:i + 1])
            assert torch.allclose(hi[:, 0], h[:, i], atol=1e-6)
        assert torch.allclose(model(src, lengths, tgt_in), model(padded, lengths, tgt_in), atol=1e-6)


def test_attention_weights():
    model = make("attention").eval()
    src, lengths, tgt_in = batch()
    with torch.no_grad():
        _, alpha = model(src, lengths, tgt_in, return_attention=True)
    assert alpha.shape == (5, 6, 7)
    assert torch.allclose(alpha.sum(-1), torch.ones(5, 6), atol=1e-6)
    pad = torch.arange(7) >= lengths.unsqueeze(1)  # [B, L]
    assert torch.all(alpha.masked_select(pad.unsqueeze(1).expand_as(alpha)) == 0)
    assert torch.all(alpha.masked_select(~pad.unsqueeze(1).expand_as(alpha)) > 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_matches_decode_steps(backend):
    model = make(backend).eval()
    src, lengths, tgt_in = batch()
    with torch.no_grad():
        teacher = torch.log_softmax(model(src, lengths, tgt_in), -1)  # [B, T, V]
        state = model.encode(src, lengths)
        for t in range(tgt_in.size(1)):
            log_probs, state = model.decode_step(tgt_in[:, t], state)
            assert torch.allclose(log_probs, teacher[:, t], atol=1e-5), t


def test_lstm_step_small_and_fused_paths_agree():
    from sympy_series_inverse.backends.lstm import FUSED_MIN_ROWS, lstm_step

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(8, 16, 2, batch_first=True).eval()
    n = FUSED_MIN_ROWS + 6
    x, h, c = torch.randn(n, 8), torch.randn(2, n, 16), torch.randn(2, n, 16)
    with torch.no_grad():
        fused, (hf, cf) = lstm_step(lstm, x, (h, c))  # n rows: torch's kernel
        parts = [lstm_step(lstm, x[i:i + 35], (h[:, i:i + 35], c[:, i:i + 35])) for i in (0, 35)]  # by hand
    assert torch.allclose(fused, torch.cat([p[0] for p in parts]), atol=1e-6)
    assert torch.allclose(hf, torch.cat([p[1][0] for p in parts], 1), atol=1e-6)
    assert torch.allclose(cf, torch.cat([p[1][1] for p in parts], 1), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reorder_state_selects_rows(backend):
    model = make(backend).eval()
    src, lengths, _ = batch()
    with torch.no_grad():
        state = model.encode(src, lengths)
        full, _ = model.decode_step(torch.full((5,), SOS), state)
        picked, _ = model.decode_step(torch.full((3,), SOS), model.reorder_state(state, torch.tensor([2, 0, 2])))
    assert torch.allclose(picked, full[[2, 0, 2]], atol=1e-6)


def test_paper_size_parameter_count():
    # Paper: 2 layers, embedding 150, hidden 512, vocabulary 161 -> about 7M parameters.
    model = LSTMSeq2Seq(LSTMConfig(161))
    n = model.num_parameters()
    assert 6.9e6 < n < 7.2e6, n
    cfg = model.config
    assert (cfg.embedding_dim, cfg.hidden_size, cfg.num_layers) == (150, 512, 2)
    att = LSTMAttentionSeq2Seq(LSTMAttentionConfig(161))
    # W_a and U_a (512 x 512 each), v_a (512), and the output layer reads [s_t; c_t].
    assert att.num_parameters() - n == 2 * 512 * 512 + 512 + 512 * 161


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_under_seed(backend):
    src, lengths, tgt_in = batch()
    a, b = make(backend, seed=7), make(backend, seed=7)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    torch.manual_seed(1)
    ya = a.train()(src, lengths, tgt_in)  # dropout on: same seed, same masks
    torch.manual_seed(1)
    yb = b.train()(src, lengths, tgt_in)
    assert torch.equal(ya, yb)
    assert not torch.equal(make(backend, seed=8).eval()(src, lengths, tgt_in), a.eval()(src, lengths, tgt_in))


def test_config_sizes_are_used():
    model = make("attention", embedding_dim=5, hidden_size=9, num_layers=3, attention_dim=4)
    assert model.encoder.embed.embedding_dim == 5 and model.decoder.num_layers == 3
    assert model.W_a.out_features == 4 and model.decoder.hidden_size == 9
    one_layer = make("lstm", num_layers=1, dropout=0.5)  # no inter-layer dropout warning
    assert one_layer.decoder.dropout == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_overfit_copy_and_reverse(backend):
    # Task token 3 = copy, 4 = reverse, then 2-4 content tokens from 5..11.
    g = torch.Generator().manual_seed(0)
    pairs = []
    for i in range(8):
        body = torch.randint(5, V, (2 + i % 3,), generator=g).tolist()
        task = 3 + i % 2
        pairs.append(([task] + body, body if task == 3 else body[::-1]))
    n, s_len, t_len = len(pairs), max(len(s) for s, _ in pairs), max(len(t) for _, t in pairs) + 1
    src = torch.zeros(n, s_len, dtype=torch.long)
    tgt_in = torch.zeros(n, t_len, dtype=torch.long)
    tgt_out = torch.zeros(n, t_len, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([SOS] + t)
        tgt_out[i, : len(t) + 1] = torch.tensor(t + [EOS])
    lengths = torch.tensor([len(s) for s, _ in pairs])

    model = make(backend, seed=0, hidden_size=32, embedding_dim=16, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(
            model(src, lengths, tgt_in).reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 1e-3:
            break
    model.eval()
    expected = [t for _, t in pairs]
    with torch.inference_mode():
        assert greedy(model, src, lengths, sos_id=SOS, eos_id=EOS, max_len=8) == expected
        hyps = beam_search(model, src, lengths, beam_size=4, sos_id=SOS, eos_id=EOS, max_len=8)
    assert [list(h[0].tokens) for h in hyps] == expected
    assert all(h[0].log_prob > -0.05 for h in hyps)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_decoder_step_matches_lstm_step_and_follows_weight_changes(dtype):
    from sympy_series_inverse.backends.lstm import decoder_step, lstm_step

    torch.manual_seed(0)
    model = make("lstm").eval().to(dtype)
    tokens = torch.tensor([SOS, 5, 7, 5])
    n = tokens.numel()
    h, c = torch.randn(2, n, model.config.hidden_size, dtype=dtype), torch.randn(2, n, model.config.hidden_size, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 3e-2
    with torch.no_grad():
        for _ in range(2):  # the second time after a weight change: the cached table must follow
            want, (wh, wc) = lstm_step(model.decoder, model.embed(tokens), (h, c))
            got, (gh, gc) = decoder_step(model.decoder, model.embed, tokens, (h, c))
            assert torch.allclose(got.float(), want.float(), atol=tol)
            assert torch.allclose(gh.float(), wh.float(), atol=tol) and torch.allclose(gc.float(), wc.float(), atol=tol)
            model.embed.weight.mul_(1.5)  # in place, as an optimiser step would
            model.decoder.weight_ih_l1.add_(0.1)


def test_attention_decoding_in_chunks_matches_one_chunk(monkeypatch):
    from sympy_series_inverse.backends import lstm_attention

    model = make("attention").eval()
    src, lengths, _ = batch()
    index = torch.tensor([4, 0, 2, 2, 1, 3, 0])  # hypotheses of mixed sources, some repeated
    with torch.no_grad():
        state = model.reorder_state(model.encode(src, lengths), index)
        whole, _ = model.decode_step(torch.full((7,), SOS), state)
        monkeypatch.setattr(lstm_attention, "_ATTENTION_CHUNK_ELEMENTS", 1)  # one row per chunk
        chunked, _ = model.decode_step(torch.full((7,), SOS), state)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_attention_decoding_of_one_source_matches_many():
    model = make("attention").eval()
    src, lengths, _ = batch()
    with torch.no_grad():
        one = model.reorder_state(model.encode(src[:1, : int(lengths[0])], lengths[:1]), torch.tensor([0, 0, 0]))
        many = model.reorder_state(model.encode(src, lengths), torch.tensor([0, 0, 0]))
        a, _ = model.decode_step(torch.tensor([SOS, 5, 6]), one)
        b, _ = model.decode_step(torch.tensor([SOS, 5, 6]), many)
    assert torch.allclose(a, b, atol=1e-5)
