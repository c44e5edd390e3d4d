package input

// key is one physical key: how robotgo names it and its PC scancode.
type key struct {
	name     string // robotgo key name (used on X11)
	scan     uint16 // PC/AT scancode set 1, without the E0 prefix (used on Windows)
	extended bool   // the scancode carries the E0 prefix
	modifier bool   // Shift, Control, Alt or Meta: released last by ReleaseAll
}

// keyTable maps DOM KeyboardEvent.code values (https://www.w3.org/TR/uievents-code/)
// to keys. It is OS-neutral: the code names a physical key position, and
// both columns describe that position; the backend picks the column it needs.
// Codes missing here are refused with ErrUnknownKey.
var keyTable = map[string]key{
	// Letters and digits (the main block).
	"KeyA":   {name: "a", scan: 0x1E},
	"KeyB":   {name: "b", scan: 0x30},
	"KeyC":   {name: "c", scan: 0x2E},
	"KeyD":   {name: "d", scan: 0x20},
	"KeyE":   {name: "e", scan: 0x12},
	"KeyF":   {name: "f", scan: 0x21},
	"KeyG":   {name: "g", scan: 0x22},
	"KeyH":   {name: "h", scan: 0x23},
	"KeyI":   {name: "i", scan: 0x17},
	"KeyJ":   {name: "j", scan: 0x24},
	"KeyK":   {name: "k", scan: 0x25},
	"KeyL":   {name: "l", scan: 0x26},
	"KeyM":   {name: "m", scan: 0x32},
	"KeyN":   {name: "n", scan: 0x31},
	"KeyO":   {name: "o", scan: 0x18},
	"KeyP":   {name: "p", scan: 0x19},
	"KeyQ":   {name: "q", scan: 0x10},
	"KeyR":   {name: "r", scan: 0x13},
	"KeyS":   {name: "s", scan: 0x1F},
	"KeyT":   {name: "t", scan: 0x14},
	"KeyU":   {name: "u", scan: 0x16},
	"KeyV":   {name: "v", scan: 0x2F},
	"KeyW":   {name: "w", scan: 0x11},
	"KeyX":   {name: "x", scan: 0x2D},
	"KeyY":   {name: "y", scan: 0x15},
	"KeyZ":   {name: "z", scan: 0x2C},
	"Digit0": {name: "0", scan: 0x0B},
	"Digit1": {name: "1", scan: 0x02},
	"Digit2": {name: "2", scan: 0x03},
	"Digit3": {name: "3", scan: 0x04},
	"Digit4": {name: "4", scan: 0x05},
	"Digit5": {name: "5", scan: 0x06},
	"Digit6": {name: "6", scan: 0x07},
	"Digit7": {name: "7", scan: 0x08},
	"Digit8": {name: "8", scan: 0x09},
	"Digit9": {name: "9", scan: 0x0A},
	// Function keys.
	"F1":  {name: "f1", scan: 0x3B},
	"F2":  {name: "f2", scan: 0x3C},
	"F3":  {name: "f3", scan: 0x3D},
	"F4":  {name: "f4", scan: 0x3E},
	"F5":  {name: "f5", scan: 0x3F},
	"F6":  {name: "f6", scan: 0x40},
	"F7":  {name: "f7", scan: 0x41},
	"F8":  {name: "f8", scan: 0x42},
	"F9":  {name: "f9", scan: 0x43},
	"F10": {name: "f10", scan: 0x44},
	"F11": {name: "f11", scan: 0x57},
	"F12": {name: "f12", scan: 0x58},
	// Editing and whitespace.
	"Enter":     {name: "enter", scan: 0x1C},
	"Space":     {name: "space", scan: 0x39},
	"Backspace": {name: "backspace", scan: 0x0E},
	"Tab":       {name: "tab", scan: 0x0F},
	"Escape":    {name: "esc", scan: 0x01},
	"Insert":    {name: "insert", scan: 0x52, extended: true},
	"Delete":    {name: "delete", scan: 0x53, extended: true},
	// Modifiers; Meta is the Windows/Super/Command key.
	"ShiftLeft":    {name: "shiftl", scan: 0x2A, modifier: true},
	"ShiftRight":   {name: "shiftr", scan: 0x36, modifier: true},
	"ControlLeft":  {name: "ctrll", scan: 0x1D, modifier: true},
	"ControlRight": {name: "ctrlr", scan: 0x1D, extended: true, modifier: true},
	"AltLeft":      {name: "altl", scan: 0x38, modifier: true},
	"AltRight":     {name: "altr", scan: 0x38, extended: true, modifier: true},
	"MetaLeft":     {name: "cmdl", scan: 0x5B, extended: true, modifier: true},
	"MetaRight":    {name: "cmdr", scan: 0x5C, extended: true, modifier: true},
	// Navigation.
	"ArrowUp":    {name: "up", scan: 0x48, extended: true},
	"ArrowDown":  {name: "down", scan: 0x50, extended: true},
	"ArrowLeft":  {name: "left", scan: 0x4B, extended: true},
	"ArrowRight": {name: "right", scan: 0x4D, extended: true},
	"Home":       {name: "home", scan: 0x47, extended: true},
	"End":        {name: "end", scan: 0x4F, extended: true},
	"PageUp":     {name: "pageup", scan: 0x49, extended: true},
	"PageDown":   {name: "pagedown", scan: 0x51, extended: true},
	// Punctuation, named by the US layout's unshifted character.
	"Minus":        {name: "-", scan: 0x0C},
	"Equal":        {name: "=", scan: 0x0D},
	"BracketLeft":  {name: "[", scan: 0x1A},
	"BracketRight": {name: "]", scan: 0x1B},
	"Backslash":    {name: "\\", scan: 0x2B},
	"Semicolon":    {name: ";", scan: 0x27},
	"Quote":        {name: "'", scan: 0x28},
	"Backquote":    {name: "`", scan: 0x29},
	"Comma":        {name: ",", scan: 0x33},
	"Period":       {name: ".", scan: 0x34},
	"Slash":        {name: "/", scan: 0x35},
	// Caps Lock.
	"CapsLock": {name: "capslock", scan: 0x3A},
	// Keypad.
	"Numpad0":        {name: "num0", scan: 0x52},
	"Numpad1":        {name: "num1", scan: 0x4F},
	"Numpad2":        {name: "num2", scan: 0x50},
	"Numpad3":        {name: "num3", scan: 0x51},
	"Numpad4":        {name: "num4", scan: 0x4B},
	"Numpad5":        {name: "num5", scan: 0x4C},
	"Numpad6":        {name: "num6", scan: 0x4D},
	"Numpad7":        {name: "num7", scan: 0x47},
	"Numpad8":        {name: "num8", scan: 0x48},
	"Numpad9":        {name: "num9", scan: 0x49},
	"NumpadEnter":    {name: "num_enter", scan: 0x1C, extended: true},
	"NumpadAdd":      {name: "num+", scan: 0x4E},
	"NumpadSubtract": {name: "num-", scan: 0x4A},
	"NumpadMultiply": {name: "num*", scan: 0x37},
	"NumpadDivide":   {name: "num/", scan: 0x35, extended: true},
	"NumpadDecimal":  {name: "num.", scan: 0x53},
}
