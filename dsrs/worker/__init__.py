"""The layers that wire the saga into one worker: the Faust app, its runtime, agents and background duties."""
