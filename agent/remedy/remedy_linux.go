package remedy

// osPlan is each remediation's commands on Linux (systemd).
func osPlan(name string) ([]Step, error) {
	switch name {
	case "flush_dns":
		return []Step{{Argv: []string{"resolvectl", "flush-caches"}}}, nil
	case "restart_spooler":
		return []Step{{Argv: []string{"systemctl", "restart", "cups.service"}}}, nil
	case "renew_dhcp":
		return []Step{{Argv: []string{"networkctl", "renew", "--all"}}}, nil
	}
	return nil, ErrUnsupported
}
