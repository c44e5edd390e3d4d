package ollama

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ollama/ollama/fs/ggml"
)

func TestPieces(t *testing.T) {
	t.Parallel()
	used := map[string]int{}
	for _, w := range []string{"▁printer", "printer"} {
		for n := range len([]rune(w)) {
			used[string([]rune(w)[:n+1])] = 1
		}
	}
	got, err := pieces("Is the printer switched on?", used)
	if err != nil {
		t.Fatal(err)
	}
	// "▁printer" and its prefixes are a trigger's tokens already: the
	// reply's own token joins the next word.
	want := []string{"Is", "▁the", "▁printer▁switched", "▁on?"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pieces (-want +got):\n%s", d)
	}
	if _, err := pieces("?", used); err == nil {
		t.Error("a reply of punctuation only got a token")
	}
	// Replies that share words: the longest unused prefix, then the rest.
	used["Answer"], used["▁number"] = 1, 1
	got, err = pieces("Answer number 7", used)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"Answ", "er", "▁numb", "er▁7"}, got); d != "" {
		t.Errorf("pieces of a reply with used words (-want +got):\n%s", d)
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	for name, scripts := range map[string][]Script{
		"two words":     {{Trigger: "two words", Reply: "x"}},
		"non-ASCII":     {{Trigger: "drücker", Reply: "x"}},
		"empty reply":   {{Trigger: "a", Reply: ""}},
		"same trigger":  {{Trigger: "a", Reply: "x"}, {Trigger: "a", Reply: "y"}},
		"empty trigger": {{Trigger: "", Reply: "x"}},
	} {
		if _, err := build(scripts); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// TestWriteGGUF decodes the written file with Ollama's own reader: the
// architecture, the vocabulary and the chain through the output matrix.
func TestWriteGGUF(t *testing.T) {
	t.Parallel()
	scripts := []Script{{Trigger: "printer", Reply: "Is it on?"}, ToolCall{Trigger: "slow", Name: "disk", Args: map[string]any{"path": "/"}}.Script()}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteGGUF(path, scripts); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	kv := g.KV()
	if kv.Architecture() != "llama" || kv.BlockCount() != 2 || kv.EmbeddingLength() != 64 {
		t.Errorf("arch %q, %d blocks, hidden %d", kv.Architecture(), kv.BlockCount(), kv.EmbeddingLength())
	}
	toks := kv.Strings("tokenizer.ggml.tokens")
	if n := len(toks); n < 259 || n > 600 {
		t.Errorf("%d tokens", n)
	}
	joined := strings.Join(toks, "|")
	for _, p := range []string{"▁printer", "printer", "Is", "▁it", "▁on?", "<tool_call>\n{\"name\":", "▁\"disk\","} {
		if !strings.Contains("|"+joined+"|", "|"+p+"|") {
			t.Errorf("no token %q", p)
		}
	}
}
