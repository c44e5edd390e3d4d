package h264

import (
	"errors"
	"testing"
)

// These run in every build: the stub NewEncoder validates too.
func TestNewEncoderRejectsInvalidOptions(t *testing.T) {
	ok := Options{Width: 1920, Height: 1080, FPS: 30, Bitrate: 4_000_000}
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"zero size", func(o *Options) { o.Width, o.Height = 0, 0 }},
		{"zero width", func(o *Options) { o.Width = 0 }},
		{"negative height", func(o *Options) { o.Height = -2 }},
		{"odd width", func(o *Options) { o.Width = 1921 }},
		{"odd height", func(o *Options) { o.Height = 1079 }},
		{"tiny", func(o *Options) { o.Width, o.Height = 8, 8 }},
		{"too wide", func(o *Options) { o.Width = MaxSize + 2 }},
		{"beyond level 5.2", func(o *Options) { o.Width, o.Height = 7680, 4320 }},
		{"zero fps", func(o *Options) { o.FPS = 0 }},
		{"fps 1000", func(o *Options) { o.FPS = 1000 }},
		{"zero bitrate", func(o *Options) { o.Bitrate = 0 }},
		{"negative bitrate", func(o *Options) { o.Bitrate = -1 }},
		{"1 kbit/s", func(o *Options) { o.Bitrate = 1_000 }},
		{"1 Gbit/s", func(o *Options) { o.Bitrate = 1_000_000_000 }}, // fits a 386 int
		{"negative key interval", func(o *Options) { o.KeyInterval = -1 }},
		{"huge key interval", func(o *Options) { o.KeyInterval = MaxKeyInterval + 1 }},
		{"unknown content", func(o *Options) { o.Content = Camera + 1 }},
		{"negative content", func(o *Options) { o.Content = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			e, err := NewEncoder(o)
			if !errors.Is(err, ErrInvalidOptions) {
				if e != nil {
					e.Close()
				}
				t.Fatalf("NewEncoder(%+v) = %v, want ErrInvalidOptions", o, err)
			}
			if e != nil {
				t.Fatal("NewEncoder returned an Encoder with an error")
			}
		})
	}
}

func TestValidateAcceptsEdges(t *testing.T) {
	for _, o := range []Options{
		{Width: 1920, Height: 1080, FPS: 30, Bitrate: 4_000_000},
		{Width: MinSize, Height: MinSize, FPS: 1, Bitrate: MinBitrate},
		{Width: 5120, Height: 1440, FPS: MaxFPS, Bitrate: MaxBitrate, KeyInterval: MaxKeyInterval},
		{Width: 1366, Height: 768, FPS: 30, Bitrate: 300_000, KeyInterval: 300},
	} {
		if err := o.validate(); err != nil {
			t.Errorf("validate(%+v) = %v", o, err)
		}
	}
}
