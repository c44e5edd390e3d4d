package desk

// MaxTicketsPerUser is maxTicketsPerUser, for the tests.
const MaxTicketsPerUser = maxTicketsPerUser
