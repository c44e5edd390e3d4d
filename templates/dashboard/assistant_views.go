package dashboard

// TabAssistant is the admins' Assistant tab.
const TabAssistant = "assistant"

// AssistantView is the admins' page of the help desk assistant's settings:
// the model, the default for every company and each company's own entry.
type AssistantView struct {
	Nav  Nav
	CSRF string
	// Model is the shop's model name; "" keeps the coordinator's.
	Model string
	// Default applies to every company without an entry of its own.
	Default AssistantCompany
	// Companies are the companies with an entry, by name.
	Companies []AssistantCompany
	// Add is the form for a company of its own (Name empty, or as sent).
	Add AssistantCompany
	// Bounds of the texts, for the fields' maxlength.
	MaxPrompt, MaxContacts, MaxName int
	Error, Notice                   string
}

// AssistantCompany is one company's entry (Name "" for the default) as a
// form.
type AssistantCompany struct {
	Name     string
	ID       string // the form's element id
	Enabled  bool
	Prompt   string
	Contacts string
	// Diagnostics and Remediations are the whitelist's rows as checkboxes.
	Diagnostics, Remediations []AssistantTool
}

// AssistantTool is one row of the whitelist, as a checkbox.
type AssistantTool struct {
	Name, Description string
	Checked           bool
}
