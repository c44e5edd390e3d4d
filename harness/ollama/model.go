package ollama

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ollama/ollama/fs/ggml"
)

// Script is one scripted answer of the test model: when Trigger appears in
// the conversation's last message (user or tool), greedy decoding streams
// Reply, a token at a time (mostly a word and the space before it; words
// other replies or triggers use already are split or joined so that every
// token is a string of its own), and stops.
type Script struct {
	// Trigger is one word of ASCII letters, digits and '_', matched
	// case-sensitively where it starts after a space or a non-word character
	// (a longer word that begins with it matches too: "printers"). With
	// several triggers in one message the most frequent wins; give each
	// message one.
	Trigger string
	// Reply is the exact text the model generates.
	Reply string
}

// ToolCall is a Script whose reply is one tool call in the Qwen3 format
// (<tool_call>{"name": …, "arguments": …}</tool_call>), which the model's
// "qwen3" parser turns into message.tool_calls of the chat response.
type ToolCall struct {
	Trigger string
	Name    string
	Args    map[string]any
}

// Script is c as the text the model generates.
func (c ToolCall) Script() Script {
	args := c.Args
	if args == nil {
		args = map[string]any{}
	}
	b, err := json.Marshal(struct {
		Name      string         `json:"name"`
		Arguments map[string]any `json:"arguments"`
	}{c.Name, args})
	if err != nil {
		panic(fmt.Sprintf("harness/ollama: tool call arguments: %v", err)) // a test's own literal
	}
	// encoding/json writes no spaces; add one after each ':' and ',' outside
	// strings so the reply splits into several tokens.
	return Script{Trigger: c.Trigger, Reply: "<tool_call>\n" + spaced(b) + "\n</tool_call>"}
}

// JSON is a Script whose reply is v encoded as JSON with a space after
// each ':' and ',' (what a JSON-schema grammar accepts), for answers under
// the chat request's format.
func JSON(trigger string, v any) Script {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("harness/ollama: JSON script: %v", err))
	}
	return Script{Trigger: trigger, Reply: spaced(b)}
}

func spaced(b []byte) string {
	var out strings.Builder
	in, esc := false, false
	for _, c := range string(b) {
		out.WriteRune(c)
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ':' || c == ','):
			out.WriteByte(' ')
		}
	}
	return out.String()
}

// Template is the chat template of the scripted model: it renders only the
// last message's content and a fixed tail ("\n>"), so the scripts select on
// what the user (or the last tool) said, whatever system prompt and history
// the caller sends. It must not end with a newline.
const Template = `{{- range $i, $m := .Messages }}{{ if eq (len (slice $.Messages $i)) 1 }}{{ $m.Content }}{{ end }}{{ end }}
>`

// Parser is the model's output parser (Ollama's built-in Qwen3 parser,
// without thinking): it turns <tool_call> blocks into tool_calls, for any
// tool name, as a real model's parser does.
const Parser = "qwen3"

// How the weights make greedy decoding follow the scripts.
//
// Both layers' query, key and feed-forward weights are zero, so a layer adds
// to the residual only what attention copies, and attention is uniform over
// the context (all scores 0). Every token's embedding is one basis
// direction of the hidden space times a magnitude:
//
//   - a script's trigger word: its own direction t, magnitude 1;
//   - a reply token that has a successor: its own direction b;
//   - the last reply token of every script: the end direction;
//   - every other token (bytes, word prefixes): the end direction, tiny.
//
// Layer 0's value and output projections copy the trigger directions only,
// so at the last prompt position the residual is (almost) the mean of the
// trigger directions present in the rendered prompt. The output matrix maps
// t to the script's first reply token, b to the next reply token and the end
// direction to </s>. Reply tokens' embeddings are large, so once a reply has
// begun the trigger mean cannot steer it: the chain runs to its end.
const (
	vScale     = 100 // trigger copy through layer 0's attention
	chainMag   = 1e4 // reply tokens' embedding magnitude
	defaultMag = 1e-3
	logitScale = 10
	headDim    = 64
)

const (
	tokUnk = iota
	tokBOS
	tokEOS
	tokByte0
)

// Token types of the GGUF tokenizer (llama.cpp's llama_token_type).
const (
	typeNormal  = 1
	typeUnknown = 2
	typeControl = 3
	typeByte    = 6
)

// ErrScript is returned for scripts the model cannot hold.
var ErrScript = errors.New("harness/ollama: bad script")

// vocab is the model's tokenizer and weights plan.
type vocab struct {
	tokens []string
	scores []float32
	types  []int32
	index  map[string]int
	// per token: its direction and magnitude
	dir []int
	mag []float32
	// per direction: the token it leads to
	next    []int
	trigger []bool
}

const endDir = 0

func (v *vocab) add(piece string, score float32, typ int32, dir int, mag float32) (int, error) {
	if _, dup := v.index[piece]; dup {
		return 0, fmt.Errorf("%w: token %q twice", ErrScript, piece)
	}
	id := len(v.tokens)
	v.tokens = append(v.tokens, piece)
	v.scores = append(v.scores, score)
	v.types = append(v.types, typ)
	v.index[piece] = id
	v.dir = append(v.dir, dir)
	v.mag = append(v.mag, mag)
	return id, nil
}

func (v *vocab) newDir(next int, trigger bool) int {
	v.next = append(v.next, next)
	v.trigger = append(v.trigger, trigger)
	return len(v.next) - 1
}

// sp is SentencePiece's word marker: a space in a token's text.
const sp = "▁"

func validTrigger(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			return false
		}
	}
	return true
}

// pieces splits a reply into tokens: at spaces (a word keeps the space
// before it), then, where that token is already in use, into its longest
// unused prefix and the rest, or joined with the next word. Every token of
// the model is a distinct string (llama.cpp requires it) and a distinct
// state of the chain.
func pieces(reply string, used map[string]int) ([]string, error) {
	var words []string
	cur := ""
	for i, r := range reply {
		if r == ' ' && i > 0 && cur != "" {
			words = append(words, cur)
			cur = ""
		}
		cur += string(r)
	}
	if cur != "" {
		words = append(words, cur)
	}
	for i := range words {
		words[i] = strings.ReplaceAll(words[i], " ", sp)
	}
	var out []string
	taken := func(p string) bool {
		if _, ok := used[p]; ok || slices.Contains(out, p) {
			return true
		}
		// A reply token has two characters or more and holds a letter or
		// digit: the template's tail ("\n>") and single characters always
		// tokenize to byte or prefix tokens, never to a reply's.
		return utf8.RuneCountInString(p) < 2 || !strings.ContainsFunc(p, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	}
	for i := 0; i < len(words); i++ {
		p := words[i]
		if !taken(p) {
			out = append(out, p)
			continue
		}
		if r := []rune(p); len(r) >= 4 {
			split := false
			for k := len(r) - 2; k >= 2; k-- {
				if a := string(r[:k]); !taken(a) {
					out = append(out, a)
					words[i] = string(r[k:])
					i-- // the rest, again
					split = true
					break
				}
			}
			if split {
				continue
			}
		}
		if i+1 < len(words) {
			words[i+1] = p + words[i+1]
			continue
		}
		// The last word: join it to the pieces before it until unused.
		for taken(p) && len(out) > 0 {
			p = out[len(out)-1] + p
			out = out[:len(out)-1]
		}
		if taken(p) {
			return nil, fmt.Errorf("%w: reply %q has no tokens of its own", ErrScript, reply)
		}
		out = append(out, p)
	}
	return out, nil
}

func build(scripts []Script) (*vocab, error) {
	v := &vocab{index: map[string]int{}}
	v.newDir(tokEOS, false) // endDir
	// ids 0..258: specials and the 256 byte-fallback tokens.
	for _, s := range []struct {
		p string
		t int32
	}{{"<unk>", typeUnknown}, {"<s>", typeControl}, {"</s>", typeControl}} {
		if _, err := v.add(s.p, 0, s.t, endDir, defaultMag); err != nil {
			return nil, err
		}
	}
	for b := range 256 {
		if _, err := v.add(fmt.Sprintf("<0x%02X>", b), 0, typeByte, endDir, defaultMag); err != nil {
			return nil, err
		}
	}
	// Triggers and every prefix of them (SentencePiece merges pairs, so a
	// word becomes one token only through its prefixes), with and without
	// the word marker. Longer prefixes score higher, so they merge first.
	type trig struct {
		dir   int
		first *int
	}
	triggers := map[string]*trig{}
	for _, s := range scripts {
		if !validTrigger(s.Trigger) {
			return nil, fmt.Errorf("%w: trigger %q is not one word of ASCII letters, digits and _", ErrScript, s.Trigger)
		}
		if _, dup := triggers[s.Trigger]; dup {
			return nil, fmt.Errorf("%w: trigger %q twice", ErrScript, s.Trigger)
		}
		if s.Reply == "" {
			return nil, fmt.Errorf("%w: trigger %q has an empty reply", ErrScript, s.Trigger)
		}
		triggers[s.Trigger] = &trig{dir: v.newDir(-1, true)}
	}
	for _, s := range scripts {
		tr := triggers[s.Trigger]
		for _, w := range []string{sp + s.Trigger, s.Trigger} {
			runes := []rune(w)
			for n := 1; n <= len(runes); n++ {
				p := string(runes[:n])
				full := n == len(runes)
				if id, ok := v.index[p]; ok {
					if full {
						// A whole trigger that is also another's prefix.
						if v.dir[id] != endDir {
							return nil, fmt.Errorf("%w: trigger %q is another trigger", ErrScript, s.Trigger)
						}
						v.dir[id], v.mag[id] = tr.dir, 1
					}
					continue
				}
				if n == 1 && w == s.Trigger {
					continue // a single character is a byte token already
				}
				dir, mag := endDir, float32(defaultMag)
				if full {
					dir, mag = tr.dir, 1
				}
				if _, err := v.add(p, float32(n), typeNormal, dir, mag); err != nil {
					return nil, err
				}
			}
		}
	}
	// Reply chains.
	for _, s := range scripts {
		ps, err := pieces(s.Reply, v.index)
		if err != nil {
			return nil, err
		}
		tr := triggers[s.Trigger]
		prevDir := tr.dir
		for i, p := range ps {
			dir := endDir
			if i < len(ps)-1 {
				dir = v.newDir(-1, false)
			}
			id, err := v.add(p, -1e6, typeNormal, dir, chainMag)
			if err != nil {
				return nil, err
			}
			v.next[prevDir] = id
			prevDir = dir
		}
	}
	return v, nil
}

// hidden is the embedding width: 64, or more for many scripts.
func (v *vocab) hidden() int {
	return headDim * ((len(v.next) + headDim - 1) / headDim)
}

func f32s(xs []float32) *bytes.Reader {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return bytes.NewReader(b)
}

// WriteGGUF writes the scripted model to path with Ollama's own GGUF
// writer: llama architecture, 2 layers, hidden 64 (a multiple of 64 when
// the scripts need more directions), a SentencePiece vocabulary of the 256
// byte tokens, the triggers and the replies.
func WriteGGUF(path string, scripts []Script) error {
	v, err := build(scripts)
	if err != nil {
		return err
	}
	h := v.hidden()
	if h > 16*headDim {
		return fmt.Errorf("%w: %d scripted tokens, at most %d", ErrScript, len(v.next), 16*headDim)
	}
	n := len(v.tokens)
	const layers, ff = 2, 64

	embd := make([]float32, h*n)
	out := make([]float32, h*n)
	for id := range n {
		embd[id*h+v.dir[id]] = v.mag[id]
	}
	for d, next := range v.next {
		out[next*h+d] = logitScale
	}
	ones := make([]float32, h)
	for i := range ones {
		ones[i] = 1
	}
	attnV := make([]float32, h*h)
	attnO := make([]float32, h*h)
	for d, trig := range v.trigger {
		if trig {
			attnV[d*h+d] = vScale
			attnO[d*h+d] = 1
		}
	}
	t := func(name string, data []float32, shape ...uint64) *ggml.Tensor {
		return &ggml.Tensor{Name: name, Kind: 0, Shape: shape, WriterTo: f32s(data)}
	}
	hh, nn := uint64(h), uint64(n)
	ts := []*ggml.Tensor{
		t("token_embd.weight", embd, hh, nn),
		t("output_norm.weight", ones, hh),
		t("output.weight", out, hh, nn),
	}
	for l := range layers {
		p := fmt.Sprintf("blk.%d.", l)
		v, o := make([]float32, h*h), make([]float32, h*h)
		if l == 0 {
			v, o = attnV, attnO
		}
		ts = append(ts,
			t(p+"attn_norm.weight", ones, hh),
			t(p+"attn_q.weight", make([]float32, h*h), hh, hh),
			t(p+"attn_k.weight", make([]float32, h*h), hh, hh),
			t(p+"attn_v.weight", v, hh, hh),
			t(p+"attn_output.weight", o, hh, hh),
			t(p+"ffn_norm.weight", ones, hh),
			t(p+"ffn_gate.weight", make([]float32, h*ff), hh, ff),
			t(p+"ffn_up.weight", make([]float32, h*ff), hh, ff),
			t(p+"ffn_down.weight", make([]float32, ff*h), ff, hh),
		)
	}
	kv := ggml.KV{
		"general.architecture":                   "llama",
		"general.name":                           "peerdesk-scripted",
		"general.file_type":                      uint32(0),
		"llama.block_count":                      uint32(layers),
		"llama.context_length":                   uint32(4096),
		"llama.embedding_length":                 uint32(h),
		"llama.feed_forward_length":              uint32(ff),
		"llama.attention.head_count":             uint32(h / headDim),
		"llama.attention.head_count_kv":          uint32(h / headDim),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.rope.dimension_count":             uint32(headDim),
		"llama.vocab_size":                       uint32(n),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.tokens":                  v.tokens,
		"tokenizer.ggml.scores":                  v.scores,
		"tokenizer.ggml.token_type":              v.types,
		"tokenizer.ggml.bos_token_id":            uint32(tokBOS),
		"tokenizer.ggml.eos_token_id":            uint32(tokEOS),
		"tokenizer.ggml.unknown_token_id":        uint32(tokUnk),
		"tokenizer.ggml.add_bos_token":           false,
		"tokenizer.ggml.add_eos_token":           false,
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		f.Close()
		return fmt.Errorf("harness/ollama: writing GGUF: %w", err)
	}
	return f.Close()
}
