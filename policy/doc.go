// Package policy makes peerdesk's access decisions as pure functions: which
// roles exist and what they may do, which capabilities a session grant may
// carry, which capabilities need the end user's consent on a machine
// (ConsentRules), and the overlay ACL generated for the control plane. It
// talks to no network, store or overlay; others enforce what it decides.
package policy
