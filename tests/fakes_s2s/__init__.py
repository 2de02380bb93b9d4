"""Smoke tests of the speech-to-speech fakes: real Pipecat realtime services against them, offline."""
