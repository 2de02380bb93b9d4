"""Fake provider servers (OpenAI and compatible, Anthropic, Gemini, Bedrock, the speech-to-speech APIs) on
127.0.0.1, each speaking its provider's wire protocol: the `demo` command's bots and the tests talk to them."""
