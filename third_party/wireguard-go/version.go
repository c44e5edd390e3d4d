package main

const Version = "0.0.20230223"
