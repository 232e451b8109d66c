"""Operations: metrics, health endpoint. Owns what an operator watches; must not
change what the bot does (these modules only observe reports and timestamps)."""
