%% The chat room of the chat_fanout workload: a gen_server holding its
%% members' pids, sending every broadcast cast to each of them.
-module(bench_room).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

init([]) ->
    {ok, []}.

handle_call({join, Pid}, _From, Members) ->
    {reply, ok, [Pid | Members]}.

handle_cast({broadcast, Msg}, Members) ->
    [M ! {chat, Msg} || M <- Members],
    {noreply, Members}.
