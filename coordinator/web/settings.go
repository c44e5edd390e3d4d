package web

const settingsPath = "/settings"
