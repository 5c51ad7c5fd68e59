<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (<receipt xmlns="urn:portgate:receipt:1">) of a declaration → the customs
  broker's notification, JSON variant: one object per receipt, the fields of DeclarationNotice
  (xsd/partners/broker-declarations.xsd), absent values as null. The XML variant is
  notify-broker-xml.xsl; docs/partners/broker-declarations.md describes both.

  - jobNo: the receipt's ClientSeqNo (DecImportResponse carries it); DEC_RESULT does not, so the
    correlated original's partnerRef stands in for it.
  - seqNo: SeqNo (DecImportResponse) or CUS_CIQ_NO / SEQ_NO (DEC_RESULT); entryNo: ENTRY_ID.
  - time: re-written as yyyy-MM-ddTHH:mm:ss when it is a time pg:time reads, else passed on as received.
  - Strings are escaped for JSON (quote, backslash, tab, CR, LF).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                xmlns:pg="urn:portgate:xpath"
                extension-element-prefixes="pg"
                exclude-result-prefixes="r pg">

  <xsl:output method="text" encoding="UTF-8"/>

  <xsl:template match="/r:receipt">
    <xsl:variable name="job">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'ClientSeqNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'ClientSeqNo'])"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="normalize-space(r:original/@partnerRef)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="seq" select="normalize-space((r:key[@name = 'SeqNo' or @name = 'CUS_CIQ_NO' or @name = 'SEQ_NO'][normalize-space() != ''])[1])"/>
    <xsl:variable name="entry" select="normalize-space(r:key[@name = 'ENTRY_ID'])"/>
    <xsl:text>{"notice":"declaration-status"</xsl:text>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'jobNo'"/><xsl:with-param name="value" select="$job"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'seqNo'"/><xsl:with-param name="value" select="$seq"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'entryNo'"/><xsl:with-param name="value" select="$entry"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'receiptType'"/><xsl:with-param name="value" select="@type"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'status'"/><xsl:with-param name="value" select="@status"/><xsl:with-param name="null" select="false()"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'meaning'"/><xsl:with-param name="value" select="r:meaning"/><xsl:with-param name="null" select="false()"/></xsl:call-template>
    <xsl:text>,"final":</xsl:text>
    <xsl:value-of select="@final = 'true'"/>
    <xsl:text>,"ok":</xsl:text>
    <xsl:value-of select="@judgement = 'ok'"/>
    <xsl:call-template name="field">
      <xsl:with-param name="name" select="'time'"/>
      <xsl:with-param name="value">
        <xsl:call-template name="time"><xsl:with-param name="t" select="normalize-space(r:time)"/></xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'info'"/><xsl:with-param name="value" select="r:info"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'customsCode'"/><xsl:with-param name="value" select="r:customsCode"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'customsDesc'"/><xsl:with-param name="value" select="r:customsDesc"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'gatewayId'"/><xsl:with-param name="value" select="r:original/@id"/></xsl:call-template>
    <xsl:text>}&#10;</xsl:text>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the input must be a normalized receipt (receipt in urn:portgate:receipt:1)</xsl:message>
  </xsl:template>

  <!-- ,"name":"value" — or null when the value is empty and null is allowed ("" otherwise). -->
  <xsl:template name="field">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:param name="null" select="true()"/>
    <xsl:text>,"</xsl:text>
    <xsl:value-of select="$name"/>
    <xsl:text>":</xsl:text>
    <xsl:choose>
      <xsl:when test="$null and normalize-space($value) = ''">null</xsl:when>
      <xsl:otherwise>
        <xsl:text>"</xsl:text>
        <xsl:call-template name="escape"><xsl:with-param name="s" select="string($value)"/></xsl:call-template>
        <xsl:text>"</xsl:text>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- A receipt time in the form pg:time reads → yyyy-MM-ddTHH:mm:ss; anything else unchanged. -->
  <xsl:template name="time">
    <xsl:param name="t"/>
    <xsl:choose>
      <xsl:when test="$t != '' and pg:matches($t, '[0-9]{8}|[0-9]{12}|[0-9]{14}|[0-9]{17}|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?')">
        <xsl:value-of select="pg:time($t, 'yyyy-MM-ddTHH:mm:ss')"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$t"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- JSON string escaping: \ and " first, then the whitespace controls XML can carry. -->
  <xsl:template name="escape">
    <xsl:param name="s"/>
    <xsl:call-template name="replace">
      <xsl:with-param name="s">
        <xsl:call-template name="replace">
          <xsl:with-param name="s">
            <xsl:call-template name="replace">
              <xsl:with-param name="s">
                <xsl:call-template name="replace">
                  <xsl:with-param name="s">
                    <xsl:call-template name="replace">
                      <xsl:with-param name="s" select="$s"/>
                      <xsl:with-param name="from" select="'\'"/>
                      <xsl:with-param name="to" select="'\\'"/>
                    </xsl:call-template>
                  </xsl:with-param>
                  <xsl:with-param name="from" select="'&quot;'"/>
                  <xsl:with-param name="to" select="'\&quot;'"/>
                </xsl:call-template>
              </xsl:with-param>
              <xsl:with-param name="from" select="'&#10;'"/>
              <xsl:with-param name="to" select="'\n'"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="from" select="'&#13;'"/>
          <xsl:with-param name="to" select="'\r'"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="from" select="'&#9;'"/>
      <xsl:with-param name="to" select="'\t'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="s"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($s, $from)">
        <xsl:value-of select="substring-before($s, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="s" select="substring-after($s, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
